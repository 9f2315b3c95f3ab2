using Turnpike.Retries;

namespace Turnpike.Tests.Retries;

public sealed class RetryAfterTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 4, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1", 1)]
    [InlineData(" 30 ", 30)]
    [InlineData("120", 120)]
    [InlineData("Wed, 04 Mar 2026 12:00:05 GMT", 5)]
    [InlineData("Wed, 04 Mar 2026 11:59:00 GMT", 0)] // in the past: no wait
    [InlineData("Wednesday, 04-Mar-26 12:01:00 GMT", 60)] // RFC 850, obsolete but allowed
    public void ReadsSecondsAndDates(string value, int seconds)
    {
        Assert.True(RetryAfter.TryParse(value, Now, out var delay));
        Assert.Equal(TimeSpan.FromSeconds(seconds), delay);
    }

    [Fact]
    public void HugeSecondsMeanForever()
    {
        Assert.True(RetryAfter.TryParse("99999999999999999999999", Now, out var delay));
        Assert.Equal(TimeSpan.MaxValue, delay);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("5s")]
    [InlineData("soon")]
    [InlineData("Wed, 32 Mar 2026 12:00:05 GMT")]
    public void RejectsAnythingElse(string value)
    {
        Assert.False(RetryAfter.TryParse(value, Now, out _));
    }
}
