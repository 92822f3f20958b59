using System.Runtime.InteropServices;

namespace EdgeRuntime.Daemon;

/// <summary>Group names to gids through the C library (getgrnam), so /etc/group, LDAP and the like all work.</summary>
internal static partial class GroupNames
{
    public static bool TryResolve(string name, out uint gid)
    {
        nint group = GetGrNam(name);
        if (group == 0)
        {
            gid = 0;
            return false;
        }

        // struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; char **gr_mem; }
        gid = (uint)Marshal.ReadInt32(group, 2 * IntPtr.Size);
        return true;
    }

    [LibraryImport("libc", EntryPoint = "getgrnam", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetGrNam(string name);
}
