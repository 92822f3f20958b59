using System.Diagnostics;
using System.Security.Cryptography;
using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Engine;

/// <summary>
/// The one thread that runs a model. Each turn of the loop: end cancelled runs, evict idle sessions past their
/// timeout, admit queued runs while fewer than MaxBatch run, prefill one chunk of one run, then decode one token for
/// every run past its prefill, all in one batch (one pass over the weights). Sessions that decode together are kept
/// in neighbouring cache slots, so the batch is one view of the cache.
/// </summary>
internal sealed class GenerationLoop : IDisposable
{
    private readonly string _model;
    private readonly DecoderModel _decoder;
    private readonly GenerationOptions _options;
    private readonly object _gate = new();
    private readonly Dictionary<string, ChatSession> _sessions = new(StringComparer.Ordinal);
    private readonly Queue<GenerationRun> _queue = new();
    private readonly List<GenerationRun> _running = [];
    private readonly ChatSession?[] _slots;
    private readonly int _spareSlot;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    private volatile bool _stopping;

    public GenerationLoop(string model, DecoderModel decoder, GenerationOptions options)
    {
        _model = model;
        _decoder = decoder;
        _options = options;
        _slots = new ChatSession?[decoder.State.Slots - 1];
        _spareSlot = decoder.State.Slots - 1;
        _thread = new Thread(Run) { IsBackground = true, Name = $"generate {model}" };
        _thread.Start();
    }

    public GenerationLoad Load()
    {
        lock (_gate)
        {
            return new GenerationLoad(_running.Count, _queue.Count, _sessions.Values.Count(s => s.Run is null));
        }
    }

    /// <summary>Finds or creates the session, builds the run with <paramref name="create"/> and queues it.</summary>
    public GenerationRun Submit(string? sessionId, bool keep, Func<ChatSession, GenerationRun> create)
    {
        lock (_gate)
        {
            if (_stopping)
            {
                throw new EdgeRuntimeException(ErrorCodes.ShuttingDown, $"{_model} is being unloaded.");
            }

            if (_queue.Count >= _options.QueueCapacity)
            {
                throw new EdgeRuntimeException(ErrorCodes.Busy, $"{_model} has {_queue.Count} requests waiting (generation.queueCapacity); try again when one has finished.");
            }

            ChatSession session;
            if (sessionId is not null)
            {
                if (!_sessions.TryGetValue(sessionId, out var found))
                {
                    throw new EdgeRuntimeException(ErrorCodes.UnknownSession, $"{_model} holds no session \"{sessionId}\": it never existed, ended, or was evicted after {_options.IdleTimeout.TotalMinutes:0.#} minutes idle or to make room. Start a new one with keep.");
                }

                if (found.Run is not null)
                {
                    throw new EdgeRuntimeException(ErrorCodes.SessionBusy, $"Session \"{sessionId}\" is still generating; send the next turn after its summary.");
                }

                session = found;
            }
            else
            {
                session = new ChatSession(NewId(), slot: -1);
            }

            var run = create(session);
            session.Kept |= keep || sessionId is not null;
            session.Run = run;
            _sessions[session.Id] = session;
            _queue.Enqueue(run);
            _wake.Release();
            return run;
        }
    }

    public bool EndSession(string id)
    {
        lock (_gate)
        {
            if (!_sessions.TryGetValue(id, out var session))
            {
                return false;
            }

            if (session.Run is { } run)
            {
                session.Kept = false; // freed when its run ends
                run.Cancel();
                _wake.Release();
            }
            else
            {
                Free(session);
            }

            return true;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Release();
        _thread.Join();
        lock (_gate)
        {
            var error = new EdgeRuntimeException(ErrorCodes.ShuttingDown, $"{_model} was unloaded.");
            foreach (var run in _queue.Concat(_running))
            {
                run.Fail(error);
            }

            _queue.Clear();
            _running.Clear();
        }

        _wake.Dispose();
    }

    private void Run()
    {
        ComputePriority.LowerCurrentThread();
        while (!_stopping)
        {
            bool idle;
            lock (_gate)
            {
                EndCancelled();
                EvictIdle();
                Admit();
                idle = _running.Count == 0;
            }

            if (idle)
            {
                // Wake for new work, or now and then to evict sessions whose idle time ran out.
                _wake.Wait(TimeSpan.FromSeconds(1));
                continue;
            }

            try
            {
                PrefillOneChunk();
                DecodeOneStep();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                FailRunning(e);
            }
        }
    }

    private void PrefillOneChunk()
    {
        GenerationRun? run;
        lock (_gate)
        {
            run = _running.Find(r => !r.PrefillDone);
        }

        if (run is null)
        {
            return;
        }

        var session = run.Session;
        int chunk = Math.Min(Math.Max(1, _options.PrefillChunk), run.PromptTokens.Count - run.Prefilled);
        var tokens = new long[chunk];
        for (int i = 0; i < chunk; i++)
        {
            tokens[i] = run.PromptTokens[run.Prefilled + i];
            session.Seen.Add(run.PromptTokens[run.Prefilled + i]);
        }

        // An image's embeddings go with the first chunk, before its tokens, and take positions like them.
        float[]? prefix = run.Prefilled == 0 ? run.ImagePrefix : null;
        int prefixLength = prefix is null ? 0 : prefix.Length / _decoder.Config.HiddenSize;
        long started = Stopwatch.GetTimestamp();
        var logits = _decoder.Step(tokens, 1, chunk, [session.Length + prefixLength + chunk], session.Slot, prefix);
        session.Length += prefixLength + chunk;
        session.Pending = null;
        run.Prefilled += chunk;
        run.PrefillStep(started, Stopwatch.GetTimestamp());
        if (run.PrefillDone)
        {
            Accept(run, run.Sampler.Next(logits, session.Seen));
        }
    }

    private void DecodeOneStep()
    {
        List<GenerationRun> batch;
        lock (_gate)
        {
            batch = _running.FindAll(r => r.PrefillDone && r.Session.Pending is not null);
            if (batch.Count == 0)
            {
                return;
            }

            Pack(batch);
        }

        batch.Sort((a, b) => a.Session.Slot.CompareTo(b.Session.Slot));
        var tokens = new long[batch.Count];
        var totals = new int[batch.Count];
        for (int b = 0; b < batch.Count; b++)
        {
            tokens[b] = batch[b].Session.Pending!.Value;
            totals[b] = batch[b].Session.Length + 1;
        }

        var logits = _decoder.Step(tokens, batch.Count, 1, totals, 0);
        int vocab = _decoder.Config.VocabSize;
        for (int b = 0; b < batch.Count; b++)
        {
            var session = batch[b].Session;
            session.Length++;
            session.Pending = null;
            Accept(batch[b], batch[b].Sampler.Next(logits.Slice(b * vocab, vocab), session.Seen));
        }

        // The tokens just sampled wake their connections' writers; the next step would take both cores of a small
        // board at once, leaving the writers to wait for a time slice (milliseconds). Giving up the rest of this one
        // lets a writer on this core send now (measured in-process: lag p50 0.62 → 0.22-0.33 ms under load).
        Thread.Yield();
    }

    /// <summary>Takes a sampled token: ends the run on a stop condition, otherwise sends it and leaves it pending.</summary>
    private void Accept(GenerationRun run, int token)
    {
        var session = run.Session;
        session.Pending = token;
        session.Seen.Add(token);
        if (run.Stop.EndOfSequence.Contains(token) || run.Stop.StopTokens.Contains(token))
        {
            session.EndedTurn = true;
            Finish(run, run.Stop.EndOfSequence.Contains(token) ? StopReasons.EndOfSequence : StopReasons.StopToken);
            return;
        }

        session.EndedTurn = false;
        string released = run.Stop.Strings.Append(run.Text.Append(token), out bool stopped);
        if (stopped)
        {
            run.Emit(token, released);
            Finish(run, StopReasons.StopString);
        }
        else if (run.Generated + 1 >= run.MaxTokens)
        {
            run.Emit(token, released + RemainingText(run));
            Finish(run, StopReasons.MaxTokens);
        }
        else if (session.Length >= _decoder.Capacity)
        {
            run.Emit(token, released + RemainingText(run));
            Finish(run, StopReasons.ContextFull);
        }
        else
        {
            run.Emit(token, released);
        }
    }

    /// <summary>The run ends for a reason other than a stop string: text still held back is sent after all.</summary>
    private static string RemainingText(GenerationRun run) => run.Stop.Strings.Append(run.Text.Flush(), out _) + run.Stop.Strings.Flush();

    private void Finish(GenerationRun run, string reason)
    {
        lock (_gate)
        {
            _running.Remove(run);
            var session = run.Session;
            session.Run = null;
            session.LastUsed = Environment.TickCount64;
            int used = session.Length;
            if (session.Kept)
            {
                run.Complete(reason, used, _decoder.Capacity, session.Id);
            }
            else
            {
                Free(session);
                run.Complete(reason, used, _decoder.Capacity, null);
            }
        }
    }

    private void EndCancelled()
    {
        foreach (var run in _running.FindAll(r => r.Cancelled))
        {
            Finish(run, StopReasons.Cancelled);
        }

        // A run cancelled while still queued never takes a slot.
        if (_queue.Any(r => r.Cancelled))
        {
            var waiting = _queue.ToArray();
            _queue.Clear();
            foreach (var run in waiting)
            {
                if (run.Cancelled)
                {
                    run.Session.Run = null;
                    if (!run.Session.Kept)
                    {
                        Free(run.Session);
                    }

                    run.Complete(StopReasons.Cancelled, run.Session.Length, _decoder.Capacity, run.Session.Kept ? run.Session.Id : null);
                }
                else
                {
                    _queue.Enqueue(run);
                }
            }
        }
    }

    private void EvictIdle()
    {
        long now = Environment.TickCount64;
        foreach (var session in _sessions.Values.Where(s => s.Run is null && now - s.LastUsed > _options.IdleTimeout.TotalMilliseconds).ToList())
        {
            Free(session);
        }
    }

    /// <summary>Moves queued runs to running while the batch has room and a slot can be found (evicting the least recently used idle session if need be).</summary>
    private void Admit()
    {
        while (_queue.Count > 0 && _running.Count < Math.Max(1, _options.MaxBatch))
        {
            var run = _queue.Peek();
            var session = run.Session;
            if (session.Slot < 0)
            {
                int free = Array.IndexOf(_slots, null);
                if (free < 0)
                {
                    var victim = _sessions.Values.Where(s => s.Run is null && s.Slot >= 0).MinBy(s => s.LastUsed);
                    if (victim is null)
                    {
                        return; // every slot is running; wait for one to finish
                    }

                    free = victim.Slot;
                    Free(victim);
                }

                session.Slot = free;
                _slots[free] = session;
            }

            _queue.Dequeue();
            _running.Add(run);
        }
    }

    /// <summary>Puts the batch's sessions in slots 0..n-1, trading places with whoever is there.</summary>
    private void Pack(List<GenerationRun> batch)
    {
        int n = batch.Count;
        var members = batch.Select(r => r.Session).ToHashSet();
        foreach (var session in members.Where(s => s.Slot >= n).ToList())
        {
            int target = Enumerable.Range(0, n).First(i => _slots[i] is not { } occupant || !members.Contains(occupant));
            Swap(session.Slot, target);
        }
    }

    private void Swap(int a, int b)
    {
        var first = _slots[a];
        var second = _slots[b];
        var cache = _decoder.State;
        if (first is not null)
        {
            cache.MoveSlot(a, _spareSlot, first.Length);
        }

        if (second is not null)
        {
            cache.MoveSlot(b, a, second.Length);
            second.Slot = a;
        }

        if (first is not null)
        {
            cache.MoveSlot(_spareSlot, b, first.Length);
            first.Slot = b;
        }

        _slots[a] = second;
        _slots[b] = first;
    }

    private void Free(ChatSession session)
    {
        if (session.Slot >= 0 && _slots[session.Slot] == session)
        {
            _slots[session.Slot] = null;
        }

        session.Slot = -1;
        _sessions.Remove(session.Id);
    }

    private void FailRunning(Exception e)
    {
        var error = e as EdgeRuntimeException ?? new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"{_model} failed while generating: {e.Message}", e);
        lock (_gate)
        {
            foreach (var run in _running)
            {
                run.Session.Run = null;
                Free(run.Session); // its cache may be half-written: the session cannot continue
                run.Fail(error);
            }

            _running.Clear();
        }
    }

    private static string NewId() => "s-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
}
