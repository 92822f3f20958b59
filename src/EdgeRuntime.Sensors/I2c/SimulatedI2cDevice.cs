using System.Device.I2c;
using System.Diagnostics;
using System.Globalization;

namespace EdgeRuntime.Sensors.I2c;

/// <summary>
/// An in-memory I2C chip with a 256-byte register file, handed to the real Iot.Device bindings in place of
/// <c>/dev/i2c-N</c> so that simulated sensors go through exactly the code paths hardware does. Transfers follow the
/// usual register-addressed protocol: the first byte of a write sets the register pointer and further bytes go to
/// successive registers; a read returns successive registers from the pointer (auto-increment, wrapping at 0xFF); a
/// write-read is a write followed by a read. Subclasses model a particular chip through the hooks (read-only registers,
/// reset and mode registers, data registers that are produced on demand).
/// </summary>
/// <remarks>
/// Transfers and the hooks run under <see cref="SyncRoot"/> because values are injected from other threads while the
/// source polls. Disposing does nothing: closing a bus handle does not power a chip down, and a source reopens the same
/// simulated chip after a failure, so the register file and the injected values must outlive the binding's handle.
/// </remarks>
public abstract class SimulatedI2cDevice : I2cDevice
{
    // EREMOTEIO as the kernel reports a missing ACK, worded like System.Device.Gpio's UnixI2cBus so that log lines
    // from a simulated unplug look like those from a real one.
    private const string RemoteIoError = "Error 121 (Remote I/O error) performing I2C data transfer";

    private readonly byte[] _registers = new byte[256];
    private readonly int _busId;
    private readonly int _address;
    private byte _pointer;
    private long _transfers;
    private volatile bool _connected = true;

    protected SimulatedI2cDevice(int busId, int deviceAddress)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(busId);
        ArgumentOutOfRangeException.ThrowIfNegative(deviceAddress);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(deviceAddress, 0x7F);
        _busId = busId;
        _address = deviceAddress;
    }

    /// <summary>A fresh copy each time, as <see cref="I2cDevice.ConnectionSettings"/> documents.</summary>
    public override I2cConnectionSettings ConnectionSettings => new(_busId, _address);

    /// <summary>
    /// False simulates an unplugged or dead chip: every transfer then fails with the kernel's remote I/O error, as a
    /// missing ACK does on a real bus. Tests set it from another thread while a source is running.
    /// </summary>
    public bool Connected
    {
        get => _connected;
        set => _connected = value;
    }

    /// <summary>Completed transfers (a write-read counts once), so tests can tell that a binding really talked to the chip.</summary>
    public long TransferCount => Interlocked.Read(ref _transfers);

    /// <summary>
    /// Guards the register file. Subclasses take it in their public members that touch registers or the values
    /// behind data registers; the hooks are already called under it.
    /// </summary>
    protected Lock SyncRoot { get; } = new();

    /// <summary>
    /// True for chips whose multi-byte writes are (register, value) pairs rather than one pointer byte followed by
    /// auto-incremented data (Bosch sensors, for example, do not auto-increment on write).
    /// </summary>
    protected virtual bool PairedWrites => false;

    public override void Read(Span<byte> buffer)
    {
        // Same rule as the Linux driver, so a binding bug that reads nothing shows up here as well.
        if (buffer.IsEmpty)
        {
            throw new ArgumentException("The buffer cannot be empty.", nameof(buffer));
        }

        lock (SyncRoot)
        {
            ThrowIfUnplugged();
            ReadCore(buffer);
            Interlocked.Increment(ref _transfers);
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (SyncRoot)
        {
            ThrowIfUnplugged();
            WriteCore(buffer);
            Interlocked.Increment(ref _transfers);
        }
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        if (readBuffer.IsEmpty)
        {
            throw new ArgumentException("The read buffer cannot be empty.", nameof(readBuffer));
        }

        // One lock for both halves: the repeated start keeps other masters (here: injecting threads) out between them.
        lock (SyncRoot)
        {
            ThrowIfUnplugged();
            WriteCore(writeBuffer);
            ReadCore(readBuffer);
            Interlocked.Increment(ref _transfers);
        }
    }

    /// <summary>Whether a host write reaches <paramref name="register"/>; writes to read-only registers are dropped, as chips do.</summary>
    protected virtual bool IsWritable(byte register) => true;

    /// <summary>Called after the host stored <paramref name="value"/> in a writable register (reset, mode and trigger registers act here).</summary>
    protected virtual void OnRegisterWritten(byte register, byte value)
    {
    }

    /// <summary>Called before the host reads <paramref name="count"/> registers from <paramref name="register"/> on, to refresh data or status registers.</summary>
    protected virtual void OnReading(byte register, int count)
    {
    }

    /// <summary>Reads a register without hooks; the caller holds <see cref="SyncRoot"/>.</summary>
    protected byte GetRegister(byte register)
    {
        Debug.Assert(SyncRoot.IsHeldByCurrentThread, "Register access outside the lock.");
        return _registers[register];
    }

    /// <summary>Sets a register without hooks (the chip's own doing, not the host's); the caller holds <see cref="SyncRoot"/>.</summary>
    protected void SetRegister(byte register, byte value)
    {
        Debug.Assert(SyncRoot.IsHeldByCurrentThread, "Register access outside the lock.");
        _registers[register] = value;
    }

    /// <summary>Sets successive registers without hooks, wrapping at 0xFF; the caller holds <see cref="SyncRoot"/>.</summary>
    protected void SetRegisters(byte first, ReadOnlySpan<byte> values)
    {
        Debug.Assert(SyncRoot.IsHeldByCurrentThread, "Register access outside the lock.");
        for (int i = 0; i < values.Length; i++)
        {
            _registers[(byte)(first + i)] = values[i];
        }
    }

    /// <summary>Sets every register to zero (the usual power-on value); the caller holds <see cref="SyncRoot"/>.</summary>
    protected void ClearRegisters()
    {
        Debug.Assert(SyncRoot.IsHeldByCurrentThread, "Register access outside the lock.");
        Array.Clear(_registers);
    }

    /// <summary>Whether a read of <paramref name="count"/> registers from <paramref name="start"/> touches [<paramref name="first"/>, <paramref name="last"/>].</summary>
    protected static bool Touches(byte start, int count, byte first, byte last)
    {
        // Walks at most 256 registers; reads are a handful of bytes, and walking handles the wrap at 0xFF for free.
        int n = Math.Min(count, 256);
        for (int i = 0; i < n; i++)
        {
            byte register = (byte)(start + i);
            if (register >= first && register <= last)
            {
                return true;
            }
        }

        return false;
    }

    private void ThrowIfUnplugged()
    {
        if (!_connected)
        {
            throw new IOException(string.Create(
                CultureInfo.InvariantCulture,
                $"{RemoteIoError}: simulated device 0x{_address:X2} on bus {_busId} is unplugged."));
        }
    }

    private void WriteCore(ReadOnlySpan<byte> buffer)
    {
        // An empty write is an address probe (what i2cdetect does); a chip that ACKs it changes nothing.
        if (buffer.IsEmpty)
        {
            return;
        }

        if (PairedWrites)
        {
            // The last register address sent stays in the pointer; a lone byte therefore sets up a register read.
            int i = 0;
            for (; i + 1 < buffer.Length; i += 2)
            {
                Store(buffer[i], buffer[i + 1]);
            }

            _pointer = i < buffer.Length ? buffer[i] : buffer[^2];
            return;
        }

        _pointer = buffer[0];
        foreach (byte value in buffer[1..])
        {
            Store(_pointer, value);
            _pointer++;
        }
    }

    private void Store(byte register, byte value)
    {
        if (IsWritable(register))
        {
            _registers[register] = value;
            OnRegisterWritten(register, value);
        }
    }

    private void ReadCore(Span<byte> buffer)
    {
        OnReading(_pointer, buffer.Length);
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = _registers[_pointer];
            _pointer++;
        }
    }
}
