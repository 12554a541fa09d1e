namespace InlineSigner.Storage;

/// <summary>The data directory's database is damaged or not ours; we never re-create it silently.</summary>
public sealed class StoreCorruptException : Exception
{
    public StoreCorruptException(string message) : base(message) { }
    public StoreCorruptException(string message, Exception inner) : base(message, inner) { }
}
