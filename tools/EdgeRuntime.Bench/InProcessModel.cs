using System.Runtime.InteropServices;
using EdgeRuntime.Client;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Bench;

/// <summary>
/// The peer: the same model, the same session options (SessionFactory, as edged uses), called directly. Each call
/// wraps the caller's arrays as OrtValues and runs, which is what an app linking ONNX Runtime would do.
/// </summary>
internal sealed class InProcessModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _outputNames;

    public InProcessModel(string path, InferenceOptions options)
    {
        _session = SessionFactory.Create(path, options);
        _outputNames = [.. _session.OutputNames];
    }

    /// <summary>Runs and returns the first output's first value (all the latency peer needs; nothing is copied).</summary>
    public float Run(IReadOnlyList<Tensor> inputs) =>
        Invoke(inputs, outputs => MemoryMarshal.Cast<byte, float>(outputs[0].GetTensorMutableRawData())[0]);

    /// <summary>Runs and returns a copy of the first output, for checking a daemon's answer element by element.</summary>
    public float[] RunFirstOutput(IReadOnlyList<Tensor> inputs) =>
        Invoke(inputs, outputs => MemoryMarshal.Cast<byte, float>(outputs[0].GetTensorMutableRawData()).ToArray());

    private unsafe T Invoke<T>(IReadOnlyList<Tensor> inputs, Func<IDisposableReadOnlyCollection<OrtValue>, T> read)
    {
        var names = new string[inputs.Count];
        var values = new OrtValue[inputs.Count];
        var pins = new System.Buffers.MemoryHandle[inputs.Count];
        try
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                pins[i] = inputs[i].Data.Pin();
                names[i] = inputs[i].Name;
                values[i] = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, ElementTypes.ToElementType(inputs[i].DType), inputs[i].Shape, (IntPtr)pins[i].Pointer, inputs[i].Data.Length);
            }

            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, names, values, _outputNames);
            return read(outputs);
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }

            foreach (var pin in pins)
            {
                pin.Dispose();
            }
        }
    }

    public void Dispose() => _session.Dispose();
}
