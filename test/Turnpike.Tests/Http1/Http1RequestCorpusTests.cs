using Turnpike.Http1;
using static Turnpike.Tests.Http1.Http1TestDriver;

namespace Turnpike.Tests.Http1;

public sealed class Http1RequestCorpusTests
{
    [Theory]
    [MemberData(nameof(Http1RequestCorpus.Names), MemberType = typeof(Http1RequestCorpus))]
    public void Corpus_case_gets_its_verdict(string name)
    {
        CorpusCase c = Http1RequestCorpus.Find(name);
        var (status, framing, body) = Verdict(Bytes(c.Raw));
        Assert.Equal(c.Status, status);
        if (c.Status == 0)
        {
            Assert.Equal((c.Framing, c.Body), (framing, body));
        }
    }

    /// <summary>The whole-message verdict: head, then the body by its framing. 0 = accepted.</summary>
    internal static (int Status, string Framing, string Body) Verdict(byte[] bytes, Func<int>? head = null, Func<int>? body = null)
    {
        var outcome = ParseRequest(bytes, head);
        if (outcome.Status == Http1ParseStatus.Error)
        {
            return (outcome.StatusCode, "", "");
        }

        if (outcome.Status == Http1ParseStatus.NeedMoreData)
        {
            return (-1, "", "");
        }

        byte[] rest = bytes[(int)outcome.Consumed..];
        switch (outcome.Request.Framing)
        {
            case Http1BodyFraming.Chunked:
                var chunked = DecodeChunked(rest, body);
                return chunked.Status switch
                {
                    ChunkedStatus.Error => (chunked.StatusCode, "", ""),
                    ChunkedStatus.Complete => (0, "Chunked", chunked.Body),
                    _ => (-1, "", ""),
                };
            case Http1BodyFraming.ContentLength:
                long length = outcome.Request.ContentLength;
                return rest.Length < length ? (-1, "", "") : (0, "ContentLength", System.Text.Encoding.Latin1.GetString(rest, 0, (int)length));
            default:
                return (0, "None", "");
        }
    }
}
