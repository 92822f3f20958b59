namespace EdgeRuntime.Integration.Tests.EmulatedBoards;

/// <summary>
/// A test of the arm64 board packages under qemu-user. Skipped only when nothing asked for it and the packages or
/// qemu are missing (a plain 'dotnet test'); under 'build.ps1 test' (EDGERUNTIME_REQUIRE_EMULATION=1) it always runs,
/// so a missing package or qemu fails the suite instead of hiding.
/// </summary>
public sealed class EmulatedBoardFactAttribute : FactAttribute
{
    public EmulatedBoardFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("EDGERUNTIME_REQUIRE_EMULATION") == "1")
        {
            return;
        }

        if (EmulatedBoard.QemuPath is null || Paths.FindPackage("*", "edgeruntime_*_{board}_arm64.deb") is null)
        {
            Skip = "no arm64 board package or qemu-aarch64: run 'dotnet pwsh ./build.ps1 test', which builds and requires both";
        }
    }
}
