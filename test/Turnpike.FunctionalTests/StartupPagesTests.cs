using Turnpike.Cli;

namespace Turnpike.FunctionalTests;

/// <summary>
/// <see cref="StartupPages"/>: which mappings of /proc/self/maps it pages out, and that paging them out in a running
/// process gives back resident file pages and leaves the process working.
/// </summary>
public sealed class StartupPagesTests
{
    [Theory]
    [InlineData("5623ca061000-5623cad17000 r-xp 00029000 fe:00 5375264                    /work/bench/out/turnpike-aot/turnpike", 0x5623ca061000UL, 0x5623cad17000UL)]
    [InlineData("5623cad17000-5623cb436000 r--p 00cdf000 fe:00 5375264                    /opt/app/turnpike", 0x5623cad17000UL, 0x5623cb436000UL)]
    [InlineData("7f0000000000-7f0000010000 r--p 00000000 08:01 42 /usr/lib/x86_64-linux-gnu/libc.so.6", 0x7f0000000000UL, 0x7f0000010000UL)]
    public void PrivateReadOnlyFileMappingsAreReleasable(string line, ulong start, ulong end)
    {
        Assert.True(StartupPages.TryParseReleasable(line, out var s, out var e));
        Assert.Equal(start, s);
        Assert.Equal(end, e);
    }

    [Theory]
    [InlineData("01938000-0209a000 rw-p 01537000 fe:00 11706448                           /opt/app/turnpike", 0x01938000UL, 0x0209a000UL)] // data segment (no PIE)
    [InlineData("5623cb92d000-5623cb987000 rw-p 018f4000 fe:00 5375264                    /opt/app/turnpike", 0x5623cb92d000UL, 0x5623cb987000UL)]
    [InlineData("5623ca061000-5623cad17000 r-xp 00029000 fe:00 5375264                    /opt/app/turnpike", 0x5623ca061000UL, 0x5623cad17000UL)]
    public void PrivateWritableFileMappingsAreReleasableWhenAsked(string line, ulong start, ulong end)
    {
        Assert.True(StartupPages.TryParseReleasable(line, includeWritable: true, out var s, out var e));
        Assert.Equal(start, s);
        Assert.Equal(end, e);
    }

    [Theory]
    [InlineData("7f0000000000-7f0000010000 rw-p 00000000 00:00 0")] // anonymous
    [InlineData("7ffd1c1e0000-7ffd1c201000 rw-p 00000000 00:00 0                          [stack]")]
    [InlineData("7f0000000000-7f0000010000 rw-s 00000000 00:05 7 /dev/shm/something")] // shared: writes reach the file
    [InlineData("7f0000000000-7f0000010000 rw-p 00000000 08:01 42 /tmp/replaced.so (deleted)")]
    public void WritableAnonymousSharedOrDeletedMappingsAreLeftAloneEvenWhenAsked(string line)
    {
        Assert.False(StartupPages.TryParseReleasable(line, includeWritable: true, out _, out _));
    }

    [Theory]
    [InlineData("5623cb92d000-5623cb987000 rw-p 018f4000 fe:00 5375264                    /opt/app/turnpike")] // writable data
    [InlineData("7f0000000000-7f0000010000 rwxp 00000000 00:00 0")] // anonymous
    [InlineData("7f0000000000-7f0000010000 r--p 00000000 00:00 0")] // anonymous, read-only (guard, RELRO copies)
    [InlineData("7ffd1c1e0000-7ffd1c201000 rw-p 00000000 00:00 0                          [stack]")]
    [InlineData("7ffd1c3f2000-7ffd1c3f4000 r-xp 00000000 00:00 0                          [vdso]")]
    [InlineData("7f0000000000-7f0000010000 r--s 00000000 00:05 7 /dev/shm/something")] // shared
    [InlineData("7f0000000000-7f0000010000 r-xs 00000000 00:01 7 /memfd:doublemapper (deleted)")] // shared, deleted
    [InlineData("7f0000000000-7f0000010000 r--p 00000000 08:01 42 /tmp/replaced.so (deleted)")]
    [InlineData("7f0000000000-7f0000010000 ---p 00000000 08:01 42 /usr/lib/libc.so.6")] // no access: a gap
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("7f0000010000-7f0000000000 r--p 00000000 08:01 42 /usr/lib/libc.so.6")] // end before start
    public void OtherMappingsAreLeftAlone(string line)
    {
        Assert.False(StartupPages.TryParseReleasable(line, out _, out _));
    }

    [SkippableFact]
    public void ReleasingGivesBackResidentFilePagesAndTheProcessKeepsWorking()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "/proc and madvise(MADV_PAGEOUT) are Linux only");

        // A private copy of a native library, loaded here: its pages are mapped by this process only. (The kernel never
        // pages out a page another process maps too, so the test host's own assemblies, shared with every other .NET
        // process on the machine, would make the result depend on what else runs.)
        var original = Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "libSystem.Native.so");
        var copy = Path.Combine(Path.GetTempPath(), $"turnpike-pageout-{Guid.NewGuid():N}.so");
        File.Copy(original, copy);
        var handle = System.Runtime.InteropServices.NativeLibrary.Load(copy);
        try
        {
            var before = ResidentKib(copy);
            Assert.True(before > 0, "the copy's pages are not resident after loading it");

            var result = StartupPages.Release();
            Skip.If(result.Mappings == 0 && result.Refused > 0, "the kernel refuses MADV_PAGEOUT (Linux < 5.4)");
            Assert.True(result.Mappings > 10, $"only {result.Mappings} mappings advised");

            var after = ResidentKib(copy);
            Assert.True(after < before, $"the copy's resident pages: {before} KiB before, {after} KiB after");
        }
        finally
        {
            System.Runtime.InteropServices.NativeLibrary.Free(handle);
            File.Delete(copy);
        }

        // Still working: code and read-only data come back from their files on their next use.
        var text = string.Join(",", Enumerable.Range(0, 1000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.StartsWith("0,1,2,", text);
    }

    /// <summary>Resident KiB of the mappings of <paramref name="path"/> in this process (/proc/self/smaps).</summary>
    private static long ResidentKib(string path)
    {
        long total = 0;
        var inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (IsMappingHeader(line))
            {
                inside = line.EndsWith(path, StringComparison.Ordinal);
            }
            else if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                total += long.Parse(line.AsSpan(4).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    /// <summary>"start-end perms ..." (a mapping), not "Key: value" (one of its fields).</summary>
    private static bool IsMappingHeader(string line)
    {
        var space = line.IndexOf(' ');
        var dash = line.IndexOf('-');
        return dash > 0 && space > dash && !line.AsSpan(0, space).EndsWith(":");
    }
}
