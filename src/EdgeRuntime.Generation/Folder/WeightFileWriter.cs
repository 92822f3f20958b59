using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace EdgeRuntime.Generation.Folder;

/// <summary>
/// Writes a model folder's weights file: tensors one after another, each starting on a 64-byte boundary so the kernels
/// read aligned rows straight from the memory map. Hashes what it writes (XxHash3) for the config's integrity check.
/// </summary>
internal sealed class WeightFileWriter : IDisposable
{
    public const int Alignment = 64;

    private readonly FileStream _file;
    private readonly XxHash3 _hash = new();
    private long _length;

    public WeightFileWriter(string path)
    {
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
    }

    public long Length => _length;

    /// <summary>Appends a tensor's bytes; returns its offset in the file.</summary>
    public long Append<T>(ReadOnlySpan<T> values)
        where T : unmanaged
    {
        Pad();
        long offset = _length;
        var bytes = MemoryMarshal.AsBytes(values);
        _file.Write(bytes);
        _hash.Append(bytes);
        _length += bytes.Length;
        return offset;
    }

    /// <summary>Flushes the file to disk and returns the hash of all it holds.</summary>
    public string Finish()
    {
        _file.Flush(flushToDisk: true);
        return Convert.ToHexStringLower(_hash.GetCurrentHash());
    }

    public void Dispose() => _file.Dispose();

    private void Pad()
    {
        int pad = (int)((Alignment - (_length % Alignment)) % Alignment);
        if (pad > 0)
        {
            Span<byte> zeros = stackalloc byte[Alignment];
            zeros = zeros[..pad];
            zeros.Clear();
            _file.Write(zeros);
            _hash.Append(zeros);
            _length += pad;
        }
    }
}
