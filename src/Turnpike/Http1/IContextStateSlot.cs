namespace Turnpike.Http1;

/// <summary>
/// A field for one object the pipeline keeps per <c>HttpContext</c> across its requests (the raw listener's connection,
/// whose features are its context's feature collection): a plain read instead of a weak-table lookup per request.
/// </summary>
internal interface IContextStateSlot
{
    object? ContextState { get; set; }
}
