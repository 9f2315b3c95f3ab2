using System.Globalization;
using System.Runtime.InteropServices;

namespace Turnpike.Cli;

/// <summary>
/// Gives back the pages of the executable (and of the other read-only file mappings) that start-up touched, once the
/// gateway is running. Reading the YAML, building the model, the command-line parser and the hosts' start-up touch
/// most of a Native AOT binary's code and read-only data: ~20 MiB of its ~26 MiB stay mapped (file-backed, clean)
/// for the life of the process although the request path uses a fraction of them. <c>madvise(MADV_PAGEOUT)</c> on
/// the mappings that are private and not writable asks the kernel to reclaim them now, as it would under memory
/// pressure: clean file pages are dropped, the ones the gateway uses again are faulted back in from the file (page
/// cache or disk) on their next use, and nothing is lost — anonymous memory and the GC heap are not touched, nor
/// written pages, and a dirty page in a read-only mapping (relocations) is never discarded by a page-out.
/// On a machine without swap the private writable file mappings are advised too: their never-written pages are clean
/// file pages (a build published without PIE and without dehydration, see Turnpike.Cli.csproj, keeps ~7 MiB of type
/// metadata there; the default PIE build has little); they get <c>MADV_RANDOM</c> first, so the request path faults back the 4 KiB pages it reads
/// instead of 128 KiB of read-around for each (<c>TURNPIKE_PAGEOUT_RANDOM=0</c>: no MADV_RANDOM).
/// Linux 5.4 or later; elsewhere, or when the kernel refuses, nothing happens. Off with <c>TURNPIKE_PAGEOUT=0</c>.
/// Measured in bench/results/NOTES-20261201-aotmem.md and NOTES-20261201-aotpeak.md.
/// </summary>
internal static partial class StartupPages
{
    private const int MadvPageout = 21;
    private const int MadvRandom = 1;

    /// <summary>What <see cref="Release"/> did.</summary>
    /// <param name="Mappings">Mappings the kernel accepted the advice for.</param>
    /// <param name="Bytes">Their total size (mapped, not necessarily resident).</param>
    /// <param name="Refused">Mappings the kernel refused (e.g. EINVAL before Linux 5.4).</param>
    public readonly record struct Result(int Mappings, long Bytes, int Refused);

    /// <summary>Pages out this process's private read-only file mappings, unless <c>TURNPIKE_PAGEOUT=0</c> or not on Linux.</summary>
    public static Result ReleaseUnlessDisabled() =>
        Environment.GetEnvironmentVariable("TURNPIKE_PAGEOUT") == "0" ? default : Release();

    /// <summary>Pages out this process's private file-backed mappings (writable ones only without swap). Never throws.</summary>
    public static Result Release()
    {
        if (!OperatingSystem.IsLinux())
        {
            return default;
        }

        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/self/maps");
        }
        catch (IOException)
        {
            return default;
        }
        catch (UnauthorizedAccessException)
        {
            return default;
        }

        int mappings = 0, refused = 0;
        long bytes = 0;
        var includeWritable = !HasSwap();
        var writableRandom = Environment.GetEnvironmentVariable("TURNPIKE_PAGEOUT_RANDOM") != "0";
        foreach (var line in lines)
        {
            if (!TryParseReleasable(line, includeWritable, out var start, out var end))
            {
                continue;
            }

            // Writable (data) mappings: no read-around when their pages are faulted back, so the request path brings back
            // the 4 KiB pages of type metadata it reads rather than 128 KiB around each (TURNPIKE_PAGEOUT_RANDOM=0: off).
            if (writableRandom && line.AsSpan().IndexOf(" rw-p ") > 0)
            {
                _ = Madvise((nint)start, (nuint)(end - start), MadvRandom);
            }

            if (Madvise((nint)start, (nuint)(end - start), MadvPageout) == 0)
            {
                mappings++;
                bytes += (long)(end - start);
            }
            else
            {
                refused++;
            }
        }

        return new Result(mappings, bytes, refused);
    }

    /// <summary>
    /// Parses one line of <c>/proc/PID/maps</c> (<c>start-end perms offset dev inode path</c>) and says whether the
    /// mapping may be paged out: file-backed (a path starting with '/', not "(deleted)"), private ('p') and not
    /// writable. Anonymous memory, stacks, [heap], [vdso] and shared or writable mappings are left alone.
    /// </summary>
    internal static bool TryParseReleasable(string line, out ulong start, out ulong end) =>
        TryParseReleasable(line, includeWritable: false, out start, out end);

    /// <summary>
    /// As <see cref="TryParseReleasable(string, out ulong, out ulong)"/>; with <paramref name="includeWritable"/>, private
    /// writable file mappings too: the executable's data segment, which (when published without PIE relocations and
    /// without dehydration, see Turnpike.Cli.csproj) holds ~7 MiB of type metadata that start-up reads and never writes. A
    /// page-out drops only its clean (never written) pages; the written ones are anonymous copies that the kernel
    /// cannot reclaim without swap, so this is used only when the machine has none (<see cref="HasSwap"/>): with swap
    /// they would be swapped out, and faulting them back would cost the request path a disk read.
    /// </summary>
    internal static bool TryParseReleasable(string line, bool includeWritable, out ulong start, out ulong end)
    {
        start = end = 0;
        var span = line.AsSpan();
        var dash = span.IndexOf('-');
        var space = span.IndexOf(' ');
        if (dash <= 0 || space <= dash + 1 || span.Length < space + 5)
        {
            return false;
        }

        if (!ulong.TryParse(span[..dash], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out start)
            || !ulong.TryParse(span[(dash + 1)..space], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out end)
            || end <= start)
        {
            return false;
        }

        var perms = span.Slice(space + 1, 4);
        if (perms[0] != 'r' || (perms[1] != '-' && !(includeWritable && perms[1] == 'w')) || perms[3] != 'p')
        {
            return false;
        }

        // The path is the sixth field; it starts at the first '/' after the permissions (fields before it are hex
        // numbers, a device "fe:00" and an inode).
        var slash = span[(space + 5)..].IndexOf('/');
        if (slash < 0)
        {
            return false;
        }

        return !span.EndsWith(" (deleted)", StringComparison.Ordinal);
    }

    /// <summary>Whether any swap area is active (<c>/proc/swaps</c> lists more than its header line); true if unknown.</summary>
    internal static bool HasSwap()
    {
        try
        {
            return File.ReadAllLines("/proc/swaps").Length > 1;
        }
        catch (IOException)
        {
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
