using System.Text;

namespace EdgeRuntime.Formats.Tests;

public sealed class NetpbmImageTests
{
    private static string Write(string header, byte[] pixels)
    {
        string path = Path.Combine(Path.GetTempPath(), $"netpbm-{Guid.NewGuid():N}.pnm");
        File.WriteAllBytes(path, [.. Encoding.ASCII.GetBytes(header), .. pixels]);
        return path;
    }

    [Fact]
    public void A_grey_pgm_with_a_comment_reads_row_major_scaled_by_its_maxval()
    {
        string path = Write("P5\n# made by hand\n3 2\n200\n", [0, 100, 200, 50, 150, 20]);
        var image = NetpbmImage.Read(path);
        Assert.Equal((3, 2, 1), (image.Width, image.Height, image.Colours));
        Assert.Equal([0f, 0.5f, 1f, 0.25f, 0.75f, 0.1f], image.Pixels);
        Assert.Same(image.Pixels, image.Grey());
    }

    [Fact]
    public void A_colour_ppm_turns_grey_by_bt601_luma()
    {
        string path = Write("P6 2 1 255\n", [255, 0, 0, 0, 255, 0]);
        var image = NetpbmImage.Read(path);
        Assert.Equal(6, image.Pixels.Length);
        float[] grey = image.Grey();
        Assert.Equal(2, grey.Length);
        Assert.Equal(0.299f, grey[0], 1e-6f);
        Assert.Equal(0.587f, grey[1], 1e-6f);
    }

    [Theory]
    [InlineData("P2\n2 1\n255\n", "not a binary PGM")]
    [InlineData("P5\n2 1\n65535\n", "only 8-bit")]
    [InlineData("P5\n4 4\n255\n", "do not fit")]
    [InlineData("P5\n2 x\n255\n", "malformed")]
    public void Other_formats_and_short_files_are_refused_with_the_reason(string header, string reason)
    {
        string path = Write(header, [1, 2]);
        var error = Assert.Throws<InvalidDataException>(() => NetpbmImage.Read(path));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_lists_its_images_in_name_order_and_nothing_else()
    {
        string folder = Directory.CreateTempSubdirectory("netpbm-").FullName;
        foreach (string name in new[] { "010.pgm", "002.PPM", "001.pgm", "notes.txt", "frame.png" })
        {
            File.WriteAllText(Path.Combine(folder, name), "");
        }

        Assert.Equal(["001.pgm", "002.PPM", "010.pgm"], NetpbmImage.ImagesIn(folder).Select(Path.GetFileName));
    }
}
