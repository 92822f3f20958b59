using System.IO.MemoryMappedFiles;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// A checkpoint file mapped read-only into memory. Checkpoints run to several GB: mapping lets the importer read one
/// tensor at a time without ever holding the file in one array, and the kernel pages it in and out as needed.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _start;

    public MappedFile(string path)
    {
        Path = path;
        Length = new FileInfo(path).Length;
        if (Length == 0)
        {
            return; // an empty file cannot be mapped; every read of it reports it as truncated instead
        }

        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _start = pointer + _view.PointerOffset;
    }

    public string Path { get; }

    public long Length { get; }

    /// <summary>
    /// <paramref name="length"/> bytes from <paramref name="offset"/>; <paramref name="what"/> names them in the
    /// error when the file ends first.
    /// </summary>
    public ReadOnlySpan<byte> Span(long offset, long length, string what)
    {
        if (offset < 0 || length < 0 || offset > Length - length)
        {
            throw new InvalidDataException($"{Path} is truncated: {what} needs bytes {offset} to {offset + length} but the file has {Length}.");
        }

        if (length > int.MaxValue)
        {
            throw new InvalidDataException($"{Path}: {what} is {length} bytes; the importer reads tensors of at most 2 GB.");
        }

        return new ReadOnlySpan<byte>(_start + offset, (int)length);
    }

    public void Dispose()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }

        _map?.Dispose();
    }
}
