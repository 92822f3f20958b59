using System.Device.I2c;
using System.Diagnostics;
using System.Globalization;

namespace EdgeRuntime.Sensors.I2c;

/// <summary>
/// Opens a real I2C device through System.Device.Gpio's Linux driver, turning the driver's terse open failure into a
/// message that says which device node is missing and how to get it. Both I2C sources
/// share it, so they share one wording.
/// </summary>
internal static class LinuxI2c
{
    public static string DeviceNode(int bus) => string.Create(CultureInfo.InvariantCulture, $"/dev/i2c-{bus}");

    public static I2cDevice Open(int bus, int address)
    {
        string node = DeviceNode(bus);
        try
        {
            return I2cDevice.Create(new I2cConnectionSettings(bus, address));
        }
        catch (IOException ex) when (!File.Exists(node))
        {
            throw new IOException(
                $"{node} does not exist, so I2C bus {bus} is not available. Enable the I2C controller in the device tree " +
                "(on a Raspberry Pi: dtparam=i2c_arm=on in config.txt, or raspi-config > Interface Options > I2C, then reboot), " +
                $"load the i2c-dev module (modprobe i2c-dev), and make sure the daemon's user is in group i2c. ({ex.Message})",
                ex);
        }
        catch (IOException ex)
        {
            // The node is there, so the usual cause is permissions: udev gives /dev/i2c-* to group i2c.
            throw new IOException(
                $"Cannot open {node}: {ex.Message} Make sure the daemon's user is in group i2c (or otherwise may read and write {node}).",
                ex);
        }
    }
}
