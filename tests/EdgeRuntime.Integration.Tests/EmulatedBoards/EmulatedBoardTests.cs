using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Integration.Tests.EmulatedBoards;

/// <summary>
/// The smoke suite for an arm64 board: its packaged edged under qemu-user, driven over the socket by the x64 edgectl
/// and client library exactly as on x64, with its outputs compared against the x64 edged's.
/// </summary>
public abstract class EmulatedBoardTests(EmulatedBoard board)
{
    // ORT's MLAS runs different SGEMM and activation kernels on NEON than on AVX, so float sums are rounded in a
    // different order. Silero's LSTM state is carried across all 168 frames; the largest difference measured was
    // 4.8e-7. 1e-5 leaves room for that to grow and is far below anything that changes a speech/silence decision.
    private const float Tolerance = 1e-5f;

    protected EmulatedBoard Board => board;

    [EmulatedBoardFact]
    public async Task Reports_the_board_and_an_arm64_platform_with_the_right_instruction_set()
    {
        await using var client = await EdgeClient.ConnectAsync(board.Edged.SocketPath);
        var hello = await client.HelloAsync("emulated-board-test");
        Assert.Equal(board.Board, hello.Board);
        Assert.StartsWith("linux-arm64 (", hello.Platform, StringComparison.Ordinal);
        bool boardHasDotProduct = board.Profile.Cpu.Features.Contains("asimddp");
        Assert.Equal(boardHasDotProduct, hello.Platform.Contains("Dp", StringComparison.Ordinal));
        Assert.Contains("AdvSimd", hello.Platform, StringComparison.Ordinal);
        Assert.Contains($"MatMulNBits int8={(boardHasDotProduct ? "AdvSimd+Dp" : "AdvSimd")},", hello.Platform, StringComparison.Ordinal);

        // With I8MM the batch products name the native kernels; single tokens stay with SDOT.
        Assert.Equal(board.HasI8mm, hello.Platform.Contains("MatMulNBits 4-bit batch=native I8mm,", StringComparison.Ordinal));
        Assert.Equal(board.HasI8mm, hello.Platform.Contains("BitLinear 4 tokens=native I8mm,", StringComparison.Ordinal));
    }

    [EmulatedBoardFact]
    public async Task Headless_triggers_store_results_on_the_board_that_the_x64_journal_reader_verifies()
    {
        await using var client = await EdgeClient.ConnectAsync(board.Edged.SocketPath);
        long before = (await client.HealthAsync()).Store!.LastId;
        await using var subscription = await client.SubscribeAsync(new SubscribeRequest(Since: before));
        for (int i = 0; i < 5; i++)
        {
            await client.InjectAsync(new InjectRequest("button", "rising"));
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var received = new List<StoredResult>();
        for (int i = 0; i < 5; i++)
        {
            received.Add(await subscription.ReadAsync(timeout.Token));
        }

        Assert.Equal(Enumerable.Range((int)before + 1, 5).Select(i => (long)i), received.Select(r => r.Event.Id));
        Assert.All(received, r => Assert.Null(r.Event.Error));
        Assert.All(received, r => Assert.Equal([8L, 8], r["y"].Shape)); // 512 samples as 8 rows of the MLP's 64 inputs

        // The records the arm64 daemon wrote (CRC-32C by its CRC32 instructions) read back with the x64 code (SSE4.2).
        string copy = System.IO.Directory.CreateTempSubdirectory("journal-copy-").FullName;
        try
        {
            foreach (string file in System.IO.Directory.GetFiles(Path.Combine(board.Edged.Directory, "results"), "*.journal"))
            {
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            }

            using var journal = EdgeRuntime.Store.ResultJournal.Open(new EdgeRuntime.Store.JournalOptions(copy));
            using var reader = journal.OpenReader(before);
            foreach (var result in received)
            {
                Assert.True(reader.TryRead(out var record));
                Assert.Equal(result.Event.Id, record.Id);
                Assert.Equal("press", record.Tag);
                Assert.Equal(result["y"].Data.ToArray(), record.Payload.AsSpan((int)result.Event.Outputs[0].Offset, (int)result.Event.Outputs[0].Length).ToArray());
            }
        }
        finally
        {
            System.IO.Directory.Delete(copy, recursive: true);
        }
    }

    [EmulatedBoardFact]
    public async Task Edgectl_from_x64_shows_status_and_where_each_node_runs()
    {
        var status = await board.Edged.EdgectlAsync("status");
        Assert.True(status.ExitCode == 0, status.All);
        Assert.Contains($"board {board.Board}", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("linux-arm64", status.Stdout, StringComparison.Ordinal);

        var info = await board.Edged.EdgectlAsync("info", "mlp", "--nodes");
        Assert.True(info.ExitCode == 0, info.All);
        Assert.Contains("providers  CPUExecutionProvider", info.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"nodes\s+CPUExecutionProvider \d+", info.Stdout);
    }

    [EmulatedBoardFact]
    public async Task Silero_VAD_on_real_speech_matches_the_x64_daemon()
    {
        var audio = WavAudio.Read(Paths.SpeechWav).Resample(16000);
        var frames = audio.ToFrames("input", 512);
        float[] arm = await ProbabilitiesAsync(board.Edged.SocketPath, frames);

        await using var x64 = await EdgedProcess.StartAsync(preload: """{ "name": "vad", "path": "silero_vad_v5.onnx" }""");
        float[] reference = await ProbabilitiesAsync(x64.SocketPath, frames);

        Assert.Equal(reference.Length, arm.Length);
        float worst = reference.Zip(arm, (a, b) => MathF.Abs(a - b)).Max();
        Assert.True(worst <= Tolerance, $"largest difference from x64 is {worst:E2} (tolerance {Tolerance:E0})");
        Assert.True(arm.Count(p => p >= 0.5f) >= 0.6 * arm.Length, "speech was not detected on the emulated board");

        // The same through the x64 edgectl: load the model under another name, stream the clip frame by frame with
        // the LSTM state carried, and get exactly what the client library got from the same board.
        string work = Path.Combine(board.Edged.Directory, "edgectl-vad");
        Directory.CreateDirectory(work);
        NpyFile.Write(Path.Combine(work, "speech.npy"), frames);
        NpyFile.Write(Path.Combine(work, "state.npy"), Tensor.Float32("state", [2, 1, 128], new float[256]));
        NpyFile.Write(Path.Combine(work, "sr.npy"), Tensor.Int64("sr", [], [16000]));
        var load = await board.Edged.EdgectlAsync("load", "vad-edgectl", "silero_vad_v5.onnx");
        Assert.True(load.ExitCode == 0, load.All);
        var run = await board.Edged.EdgectlAsync("infer", "vad-edgectl", "--input", $"input={Path.Combine(work, "speech.npy")}", "--input", $"state={Path.Combine(work, "state.npy")}",
            "--input", $"sr={Path.Combine(work, "sr.npy")}", "--split", "input", "--carry", "stateN=state", "--output-dir", Path.Combine(work, "out"), "--quiet");
        Assert.True(run.ExitCode == 0, run.All);
        Assert.Equal(arm, NpyFile.Read(Path.Combine(work, "out", "output.npy")).ToArray<float>());
    }

    [EmulatedBoardFact]
    public async Task The_error_cases_answer_as_on_x64()
    {
        await using var client = await EdgeClient.ConnectAsync(board.Edged.SocketPath);
        async Task<string> CodeOf(Func<Task> action) => (await Assert.ThrowsAsync<EdgeRuntimeException>(action)).Code;

        Assert.Equal(ErrorCodes.UnknownModel, await CodeOf(() => client.InferAsync("nope", [Tensor.Float32("x", [1], [1f])])));
        Assert.Equal(ErrorCodes.InvalidInput, await CodeOf(() => client.InferAsync("add", [Tensor.Float32("x", [1, 3], [1f, 2f, 3f])])));
        Assert.Equal(ErrorCodes.BadRequest, await CodeOf(() => client.LoadAsync(new LoadRequest("bad", "add.onnx", ["npu9000"]))));
        Assert.Equal(ErrorCodes.ModelNotFound, await CodeOf(() => client.LoadAsync("missing", "missing.onnx")));
        Assert.Equal(ErrorCodes.ModelLoadFailed, await CodeOf(() => client.LoadAsync("corrupt", "corrupt.onnx")));
        Assert.Equal(ErrorCodes.ProviderUnavailable, await CodeOf(() => client.LoadAsync(new LoadRequest("on-cuda", "add.onnx", ["cuda"], "fail"))));

        // And the daemon is still serving.
        var sum = await client.InferAsync("add", [Tensor.Float32("x", [2, 3], [1f, 1f, 1f, 1f, 1f, 1f])]);
        Assert.Equal([2f, 3f, 4f, 5f, 6f, 7f], sum["y"].ToArray<float>());
    }

    [EmulatedBoardFact]
    public async Task BitLinear_runs_as_our_custom_op_on_the_board_and_equals_the_reference()
    {
        // The C# kernel inside ORT on arm64 (AdvSimd; SDOT on the rpi5), through the Native AOT bridge: bit for bit.
        await KernelsOverSocket.CheckBitLinearAsync(board.Edged, $"bitlinear-{board.Board}");
    }

    [EmulatedBoardFact]
    public async Task Every_kernel_on_every_arm64_path_equals_its_reference_under_the_boards_cpu()
    {
        // The kernels' whole self-check (all sizes and tails, scalar and AdvSimd paths, SDOT where the CPU has it),
        // run by the packaged Native AOT edged for this board under qemu with the board's CPU model.
        var run = await ProcessRunner.RunAsync(EmulatedBoard.QemuPath!, [.. board.QemuArguments(board.Cpu), "--check-kernels"]);
        Assert.True(run.ExitCode == 0, run.All);
        bool dotProduct = board.Profile.Cpu.Features.Contains("asimddp");
        Assert.Contains(dotProduct ? "AdvSimd+Dp   MatMulNBits int8" : "AdvSimd      MatMulNBits int8", run.Stdout, StringComparison.Ordinal);

        // The native I8MM kernels where the CPU has them (the self-check then runs them and the C# forms); else a line
        // that says the CPU lacks them.
        Assert.Contains(board.HasI8mm ? "libedgekernels: I8MM in use" : "libedgekernels: I8MM not on this CPU", run.Stdout, StringComparison.Ordinal);
        if (board.HasI8mm)
        {
            Assert.Contains($"  {"BitLinear 4 tokens",-26} native I8mm", run.Stdout, StringComparison.Ordinal);
            Assert.Contains($"  {"MatMulNBits 4-bit batch",-26} native I8mm", run.Stdout, StringComparison.Ordinal);
            Assert.Contains($"  {"MatMulInteger prepacked",-26} AdvSimd+Dp (batches: native I8mm)", run.Stdout, StringComparison.Ordinal);
        }

        Assert.Contains("all kernels agree with their references", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FAILED", run.Stdout, StringComparison.Ordinal);
    }

    [EmulatedBoardFact]
    public async Task MatMulNBits_and_QLinearMatMul_fallbacks_run_on_the_board_and_equal_the_reference()
    {
        // The low-bit (SDOT on the rpi5, widening multiplies on the rpi4) and 8-bit (SMLAL) NEON kernels, bit for bit.
        await KernelsOverSocket.CheckFallbackRewriteAsync(board.Edged, $"fallback-{board.Board}");
    }

    [EmulatedBoardFact]
    public async Task Concurrent_clients_get_their_own_answers()
    {
        var reference = await MlpOutputsAsync(board.Edged.SocketPath, seed: 0, count: 1);
        var tasks = Enumerable.Range(1, 4).Select(seed => MlpOutputsAsync(board.Edged.SocketPath, seed, count: 10)).ToArray();
        var results = await Task.WhenAll(tasks);
        for (int client = 0; client < results.Length; client++)
        {
            var outputs = results[client];
            Assert.Equal(10, outputs.Count);

            // Each client's inputs differ, so each answer shows it came back to the right client.
            Assert.All(outputs, o => Assert.Equal(8, o.Length));
            Assert.NotEqual(reference[0], outputs[0]);
        }

        // The same request from two clients gets bit-identical answers.
        var again = await MlpOutputsAsync(board.Edged.SocketPath, seed: 0, count: 1);
        Assert.Equal(reference[0], again[0]);
    }

    private static async Task<List<float[]>> MlpOutputsAsync(string socket, int seed, int count)
    {
        await using var client = await EdgeClient.ConnectAsync(socket);
        var outputs = new List<float[]>();
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            float[] x = [.. Enumerable.Range(0, 64).Select(_ => (float)random.NextDouble())];
            var result = await client.InferAsync("mlp", [Tensor.Float32("x", [1, 64], x)]);
            outputs.Add(result.Outputs[0].ToArray<float>());
        }

        return outputs;
    }

    private static async Task<float[]> ProbabilitiesAsync(string socket, Tensor frames)
    {
        await using var client = await EdgeClient.ConnectAsync(socket);
        var state = Tensor.Float32("state", [2, 1, 128], new float[256]);
        var sr = Tensor.Int64("sr", [], [16000]);
        int count = (int)frames.Shape[0];
        var probabilities = new float[count];
        for (int i = 0; i < count; i++)
        {
            var frame = frames with { Shape = [1, 512], Data = frames.Data.Slice(i * 2048, 2048) };
            var result = await client.InferAsync("vad", [frame, state, sr]);
            probabilities[i] = result["output"].ToArray<float>()[0];
            state = result["stateN"] with { Name = "state" };
        }

        return probabilities;
    }
}

public sealed class Rpi4EmulatedTests(Rpi4Board board) : EmulatedBoardTests(board), IClassFixture<Rpi4Board>;

/// <summary>
/// The shared board tests again on a core with I8MM: the BitLinear, MatMulNBits and QLinearMatMul batches over the socket run
/// the native I8MM kernels inside ORT and must still equal the references bit for bit.
/// </summary>
public sealed class Rpi5I8mmEmulatedTests(Rpi5I8mmBoard board) : EmulatedBoardTests(board), IClassFixture<Rpi5I8mmBoard>
{
    [EmulatedBoardFact]
    public async Task A_profile_with_i8mm_off_keeps_the_batches_in_csharp_on_a_cpu_that_has_it()
    {
        // The package's own profile with "kernels": { "i8mm": false }: hello names the SDOT forms for the batches too,
        // and they still equal the references.
        string directory = EdgedProcess.Prepare(extraConfig: "\"boardProfile\": \"board.json\"");
        var profile = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Board.PackageRoot, "usr/lib/edgeruntime/board.json")), documentOptions: new() { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!.AsObject();
        profile["kernels"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "i8mm": false }""");
        File.WriteAllText(Path.Combine(directory, "board.json"), profile.ToJsonString());
        await using var edged = await EdgedProcess.StartCommandAsync(directory, EmulatedBoard.QemuPath!, Board.QemuArguments("max"), TimeSpan.FromSeconds(120));
        await using (var client = await EdgeClient.ConnectAsync(edged.SocketPath))
        {
            var hello = await client.HelloAsync("i8mm-off-test");
            Assert.Contains("MatMulNBits 4-bit batch=AdvSimd+Dp,", hello.Platform, StringComparison.Ordinal);
            Assert.DoesNotContain("I8mm", hello.Platform, StringComparison.Ordinal);
        }

        await KernelsOverSocket.CheckBitLinearAsync(edged, "bitlinear-i8mm-off");
        await KernelsOverSocket.CheckFallbackRewriteAsync(edged, "fallback-i8mm-off");
    }
}

public sealed class Rpi5EmulatedTests(Rpi5Board board) : EmulatedBoardTests(board), IClassFixture<Rpi5Board>
{
    [EmulatedBoardFact]
    public async Task The_rpi5_build_refuses_a_cpu_without_dot_product()
    {
        // Built for ARMv8.2-A with dot product, the binary must not run on a Cortex-A72 (Pi 4): it has to say so
        // at start, not fault in the middle of a kernel.
        var run = await ProcessRunner.RunAsync(EmulatedBoard.QemuPath!, [.. Board.QemuArguments("cortex-a72"), "--version"]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("instruction set", run.All, StringComparison.OrdinalIgnoreCase);
    }
}
