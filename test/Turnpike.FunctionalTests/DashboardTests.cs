using System.Net;
using Microsoft.Playwright;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>
/// The live dashboard in a real browser: Debian's chromium, headless, driven by Playwright (its bundled driver;
/// no browser is downloaded). Skipped when chromium is missing, unless CI=true (then .ci/run installs it).
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class DashboardTests(ITestOutputHelper output)
{

    private static readonly string[] ChromiumFlags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    [SkippableFact]
    public async Task PageShowsLiveRequestRateAndTheDestinationTableUnderLoad()
    {
        var chromium = ExternalTool.Require("chromium", "chromium");

        await using var a = await TestBackend.StartEchoAsync("a");
        await using var b = await TestBackend.StartEchoAsync("b");
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"a: {a.Address}\nb: {b.Address}", top: "admin:\n  address: 127.0.0.1\n  port: 0\n  token: dash-token"));

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ChromiumFlags,
            Timeout = 60_000,
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1100 } });
        var consoleErrors = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                consoleErrors.Add(m.Text + " " + m.Location);
            }
        };

        // The token travels in the page URL, the page passes it to the stream.
        await page.GotoAsync(new Uri(gw.AdminUrl, "/?token=dash-token").ToString());
        await page.WaitForSelectorAsync("#conn.on", new PageWaitForSelectorOptions { Timeout = 15_000 });
        await page.WaitForSelectorAsync("#destinations tr[data-destination='b']", new PageWaitForSelectorOptions { Timeout = 15_000 });
        Assert.Equal("0", await page.InnerTextAsync("#rate"));

        // Bounded load: 100 req/s for 20 s; later 200 req/s more for 6 s.
        var targets = new[] { (gw.Client, gw.Combine("/load")) };
        var steady = LoadGenerator.RunAsync(targets, 100, TimeSpan.FromSeconds(20));

        var first = await WaitForAsync(page, async () => long.TryParse(await page.InnerTextAsync("#rate"), out var r) && r > 0 ? r : (long?)null, "a non-zero request rate");
        var bRequests = await RequestsOf(page, "b");
        var burst = LoadGenerator.RunAsync(targets, 200, TimeSpan.FromSeconds(6));
        var later = await WaitForAsync(page, async () => long.TryParse(await page.InnerTextAsync("#rate"), out var r) && r > first + 50 ? r : (long?)null, $"a request rate above {first + 50}");
        Assert.True(later > first);
        output.WriteLine($"request-rate figure: first non-zero {first}/s, after the burst started {later}/s");
        var bLater = await WaitForAsync(page, async () => await RequestsOf(page, "b") is var n && n > bRequests ? n : (long?)null, "destination b's request count to grow");
        output.WriteLine($"destination b requests in the table: {bRequests} then {bLater}");
        Assert.NotEqual("–", await page.InnerTextAsync("#p99"));

        // Drain b with the page's own button (the page sends the bearer token): the table says so, b gets no more.
        await page.ClickAsync("#destinations tr[data-destination='b'] button");
        await WaitForAsync(page, async () => await page.InnerTextAsync("#destinations tr[data-destination='b'] td.state") == "drained" ? true : (bool?)null, "b drained in the table");
        var bDrained = b.Requests;
        await Task.Delay(1500);
        Assert.InRange(b.Requests, bDrained, bDrained + 10); // only requests already in flight
        output.WriteLine($"b drained through the page: backend b saw {b.Requests - bDrained} requests in the next 1.5 s (a: {a.Requests})");

        var directory = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");
        Directory.CreateDirectory(directory);
        var screenshot = Path.Combine(directory, "dashboard.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000);
        output.WriteLine($"screenshot: {screenshot}");

        await page.ClickAsync("#destinations tr[data-destination='b'] button");
        await WaitForAsync(page, async () => await page.InnerTextAsync("#destinations tr[data-destination='b'] td.state") == "eligible" ? true : (bool?)null, "b enabled again");

        var results = await Task.WhenAll(steady, burst);
        Assert.All(results, r => Assert.Equal(r.Total, r.Ok));
        Assert.Empty(consoleErrors);
    }

    [Fact]
    public async Task PageAndScriptAreServedFromTheAssemblyWithoutExternalReferences()
    {
        await using var a = await TestBackend.StartEchoAsync("a");
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(a.Address));
        using var client = GatewayHost.CreateClient();
        foreach (var (path, type) in new[] { ("/", "text/html"), ("/index.html", "text/html"), ("/dashboard.js", "text/javascript"), ("/dashboard.css", "text/css") })
        {
            using var response = await client.GetAsync(new Uri(gw.AdminUrl, path));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("http://", body);
            Assert.DoesNotContain("https://", body);
        }

        using var missing = await client.GetAsync(new Uri(gw.AdminUrl, "/chart.js"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    private static async Task<long> RequestsOf(IPage page, string destination) =>
        long.Parse(await page.InnerTextAsync($"#destinations tr[data-destination='{destination}'] td.requests"));

    /// <summary>Polls the page until <paramref name="probe"/> gives a value; 20 s at most.</summary>
    private static async Task<T> WaitForAsync<T>(IPage page, Func<Task<T?>> probe, string what)
        where T : struct
    {
        for (var i = 0; i < 200; i++)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            await page.WaitForTimeoutAsync(100);
        }

        throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
    }
}
