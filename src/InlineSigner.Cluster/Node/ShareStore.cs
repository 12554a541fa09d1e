using System.Runtime.InteropServices;
using System.Security.Cryptography;
using InlineSigner.Cluster.Protocol;

namespace InlineSigner.Cluster.Node;

/// <summary>The share store cannot be opened or written: wrong passphrase, tampering, corruption, locked by another node.</summary>
public sealed class ShareStoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One key share as the node keeps it. <see cref="Share"/> and <see cref="NonceSeed"/> are secret. For FROST keys,
/// <see cref="NextNonce"/> is the lowest nonce number that may still be spent: every lower one is used or skipped.
/// </summary>
public sealed record StoredKey(string KeyId, KeyScheme Scheme, int ShareIndex, byte[] PublicKey, byte[] Share, long StoredAtMs, byte[] NonceSeed, ulong NextNonce)
{
    public override string ToString() => $"StoredKey {{ {KeyId}, {Scheme}, share #{ShareIndex}, next nonce {NextNonce}, secrets not shown }}";
}

/// <summary>
/// The node's key shares, encrypted at rest in one file. The file key comes from the passphrase through
/// PBKDF2-SHA256 (a random salt and the iteration count are stored in the header); each write derives a fresh AES-256-GCM
/// key with HKDF from a random per-write salt, so GCM's random-nonce limit never comes near. The header is bound
/// as associated data. Writes are atomic: temporary file, fsync, rename, fsync of the directory. A file that fails
/// authentication is a startup error and is never overwritten. A lock file keeps a second node off the same store.
///
/// FROST nonce numbers: <see cref="AdvanceNonceAsync"/> returns only once the new lower bound is on disk, so a share
/// made with a nonce is released only after that nonce can never be spent again, even across a crash. Concurrent
/// callers share one write (group commit).
/// </summary>
public sealed class ShareStore : IDisposable
{
    private static readonly byte[] Magic = "ISSTORE1"u8.ToArray();
    private const byte FormatVersion = 1;
    private const byte KdfPbkdf2Sha256 = 1;
    public const int DefaultKdfIterations = 600_000;
    private const int SaltBytes = 16, KeyCheckBytes = 16, WriteSaltBytes = 32, NonceBytes = 12, TagBytes = 16;
    private const int HeaderBytes = 8 + 1 + 1 + 4 + SaltBytes + KeyCheckBytes + WriteSaltBytes + NonceBytes + 4;
    private const int MaxFileBytes = 256 << 20;

    private readonly string _path;
    private readonly FileStream _lock;
    private readonly byte[] _storeKey;
    private readonly byte[] _salt;
    private readonly int _iterations;
    private readonly object _gate = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private Dictionary<string, StoredKey> _committed;
    private readonly Dictionary<string, ulong> _pendingNonce = new(StringComparer.Ordinal);
    private uint _generation;

    private ShareStore(string path, FileStream lockFile, byte[] storeKey, byte[] salt, int iterations, Dictionary<string, StoredKey> keys, uint generation)
    {
        _path = path;
        _lock = lockFile;
        _storeKey = storeKey;
        _salt = salt;
        _iterations = iterations;
        _committed = keys;
        _generation = generation;
    }

    public string Path => _path;

    /// <summary>How many times the file has been written (a test can see that a write happened).</summary>
    public uint Generation { get { lock (_gate) return _generation; } }

    /// <summary>
    /// Opens the store at <paramref name="path"/>, creating an empty one if there is none. Throws
    /// <see cref="ShareStoreException"/> with a clear reason for a wrong passphrase, a tampered or corrupt file, or a
    /// store already in use.
    /// </summary>
    public static ShareStore Open(string path, ReadOnlySpan<byte> passphrase, int kdfIterationsForNewStore = DefaultKdfIterations)
    {
        if (passphrase.Length == 0) throw new ShareStoreException($"share store {path}: the passphrase is empty");
        path = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new ShareStoreException($"share store {path} is in use by another process ({path}.lock is locked)", e);
        }
        try
        {
            // A temporary file is what a crash during a write leaves behind; the store itself is still the old one.
            if (File.Exists(path + ".tmp")) File.Delete(path + ".tmp");
            if (!File.Exists(path))
            {
                if (kdfIterationsForNewStore < 10_000) throw new ShareStoreException($"share store {path}: {kdfIterationsForNewStore} KDF iterations are too few");
                var salt = RandomNumberGenerator.GetBytes(SaltBytes);
                var key = Rfc2898DeriveBytes.Pbkdf2(passphrase, salt, kdfIterationsForNewStore, HashAlgorithmName.SHA256, 32);
                var store = new ShareStore(path, lockFile, key, salt, kdfIterationsForNewStore, new Dictionary<string, StoredKey>(StringComparer.Ordinal), 0);
                store.WriteFile(store._committed, 0);
                return store;
            }
            return Load(path, lockFile, passphrase);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    private static ShareStore Load(string path, FileStream lockFile, ReadOnlySpan<byte> passphrase)
    {
        byte[] file;
        try
        {
            var info = new FileInfo(path);
            if (info.Length > MaxFileBytes) throw new ShareStoreException($"share store {path}: {info.Length} bytes is not a share store (too large)");
            file = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new ShareStoreException($"share store {path} cannot be read: {e.Message}", e);
        }
        if (file.Length < HeaderBytes + TagBytes || !file.AsSpan(0, 8).SequenceEqual(Magic))
            throw new ShareStoreException($"share store {path} is not an InlineSigner share store (bad magic or truncated); refusing to start, the file is left as it is");
        var reader = new WireReader(file, "share store");
        reader.Raw(8);
        var version = reader.U8();
        if (version != FormatVersion) throw new ShareStoreException($"share store {path}: unsupported format version {version}");
        var kdf = reader.U8();
        if (kdf != KdfPbkdf2Sha256) throw new ShareStoreException($"share store {path}: unknown key derivation {kdf}");
        uint iterations = reader.U32();
        if (iterations is < 10_000 or > 100_000_000) throw new ShareStoreException($"share store {path}: implausible KDF iteration count {iterations} (corrupt header)");
        var salt = reader.Raw(SaltBytes).ToArray();
        var keyCheck = reader.Raw(KeyCheckBytes).ToArray();
        var writeSalt = reader.Raw(WriteSaltBytes).ToArray();
        var nonce = reader.Raw(NonceBytes).ToArray();
        uint length = reader.U32();
        if (length != file.Length - HeaderBytes - TagBytes)
            throw new ShareStoreException($"share store {path} is truncated or corrupt (ciphertext length {length} does not match the file); refusing to start, the file is left as it is");

        var storeKey = Rfc2898DeriveBytes.Pbkdf2(passphrase, salt, (int)iterations, HashAlgorithmName.SHA256, 32);
        if (!CryptographicOperations.FixedTimeEquals(KeyCheck(storeKey), keyCheck))
        {
            CryptographicOperations.ZeroMemory(storeKey);
            throw new ShareStoreException($"share store {path}: wrong passphrase (or a modified header); refusing to start, the file is left as it is");
        }
        var plaintext = new byte[length];
        try
        {
            var fileKey = FileKey(storeKey, writeSalt);
            using (var gcm = new AesGcm(fileKey, TagBytes))
            {
                try
                {
                    gcm.Decrypt(nonce, file.AsSpan(HeaderBytes, (int)length), file.AsSpan(HeaderBytes + (int)length, TagBytes), plaintext, file.AsSpan(0, HeaderBytes));
                }
                catch (AuthenticationTagMismatchException e)
                {
                    CryptographicOperations.ZeroMemory(storeKey);
                    throw new ShareStoreException($"share store {path} failed authentication: it was modified or is corrupt; refusing to start, the file is left as it is (restore it from a backup)", e);
                }
            }
            CryptographicOperations.ZeroMemory(fileKey);
            var (keys, generation) = DecodeRecords(plaintext, path);
            return new ShareStore(path, lockFile, storeKey, salt, (int)iterations, keys, generation);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    public IReadOnlyList<StoredKey> Keys()
    {
        lock (_gate) return _committed.Values.OrderBy(k => k.KeyId, StringComparer.Ordinal).ToList();
    }

    public StoredKey? Find(string keyId)
    {
        lock (_gate) return _committed.GetValueOrDefault(keyId);
    }

    /// <summary>Stores a key share durably. Without <paramref name="replace"/> an existing key id is an error.</summary>
    public Task PutAsync(StoredKey key, bool replace, CancellationToken cancellationToken) =>
        MutateAsync(keys =>
        {
            if (!replace && keys.ContainsKey(key.KeyId)) throw new InvalidOperationException($"key {key.KeyId} is already stored on this node");
            keys[key.KeyId] = key;
        }, cancellationToken);

    /// <summary>Deletes a key share durably; false when there was none.</summary>
    public async Task<bool> DeleteAsync(string keyId, CancellationToken cancellationToken)
    {
        bool found = false;
        await MutateAsync(keys => found = keys.Remove(keyId), cancellationToken);
        return found;
    }

    /// <summary>
    /// Raises the FROST key's nonce lower bound to <paramref name="nextNonce"/> and returns once that is on disk.
    /// Callers that arrive while a write is running are served by the next write together.
    /// </summary>
    public async Task AdvanceNonceAsync(string keyId, ulong nextNonce, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_committed.TryGetValue(keyId, out var key)) throw new InvalidOperationException($"key {keyId} is not stored on this node");
            if (key.NextNonce >= nextNonce) return;
            _pendingNonce[keyId] = Math.Max(_pendingNonce.GetValueOrDefault(keyId), nextNonce);
        }
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            lock (_gate)
            {
                if (!_committed.TryGetValue(keyId, out var key)) throw new InvalidOperationException($"key {keyId} was deleted");
                if (key.NextNonce >= nextNonce) return; // an earlier write carried it
            }
            WriteLocked(_ => { });
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task MutateAsync(Action<Dictionary<string, StoredKey>> change, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            WriteLocked(change);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Under the write lock: next state = committed + pending nonce bounds + change; written, then committed.</summary>
    private void WriteLocked(Action<Dictionary<string, StoredKey>> change)
    {
        Dictionary<string, StoredKey> next;
        uint generation;
        Dictionary<string, ulong> pending;
        lock (_gate)
        {
            next = new Dictionary<string, StoredKey>(_committed, StringComparer.Ordinal);
            pending = new Dictionary<string, ulong>(_pendingNonce, StringComparer.Ordinal);
            generation = _generation + 1;
        }
        foreach (var (keyId, nonce) in pending)
            if (next.TryGetValue(keyId, out var key) && key.NextNonce < nonce) next[keyId] = key with { NextNonce = nonce };
        change(next);
        try
        {
            WriteFile(next, generation);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The file on disk is still the previous, complete version; memory must not run ahead of it.
            throw new ShareStoreException($"share store {_path} could not be written: {e.Message}", e);
        }
        lock (_gate)
        {
            _committed = next;
            _generation = generation;
            foreach (var (keyId, nonce) in pending)
                if (_pendingNonce.TryGetValue(keyId, out var value) && value <= nonce) _pendingNonce.Remove(keyId);
        }
    }

    private void WriteFile(Dictionary<string, StoredKey> keys, uint generation)
    {
        var plaintext = EncodeRecords(keys, generation);
        var writeSalt = RandomNumberGenerator.GetBytes(WriteSaltBytes);
        var nonce = RandomNumberGenerator.GetBytes(NonceBytes);
        var header = new WireWriter(HeaderBytes).Raw(Magic).U8(FormatVersion).U8(KdfPbkdf2Sha256).U32((uint)_iterations)
            .Raw(_salt).Raw(KeyCheck(_storeKey)).Raw(writeSalt).Raw(nonce).U32((uint)plaintext.Length).ToArray();
        var file = new byte[HeaderBytes + plaintext.Length + TagBytes];
        header.CopyTo(file, 0);
        var fileKey = FileKey(_storeKey, writeSalt);
        try
        {
            using var gcm = new AesGcm(fileKey, TagBytes);
            gcm.Encrypt(nonce, plaintext, file.AsSpan(HeaderBytes, plaintext.Length), file.AsSpan(HeaderBytes + plaintext.Length, TagBytes), header);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(fileKey);
            CryptographicOperations.ZeroMemory(plaintext);
        }
        AtomicFile.Write(_path, file);
    }

    private static byte[] KeyCheck(byte[] storeKey) => HMACSHA256.HashData(storeKey, "InlineSigner share store key check"u8)[..KeyCheckBytes];

    private static byte[] FileKey(byte[] storeKey, byte[] writeSalt) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, storeKey, 32, writeSalt, "InlineSigner share store v1 file key"u8.ToArray());

    private static byte[] EncodeRecords(Dictionary<string, StoredKey> keys, uint generation)
    {
        // Sized up front so the buffer is never reallocated, leaving no stray copies of secrets behind.
        int size = 8 + keys.Values.Sum(k => 2 + 64 + 2 + 4 + k.PublicKey.Length + 4 + k.Share.Length + 8 + 4 + k.NonceSeed.Length + 8);
        var writer = new WireWriter(size).U32(generation).U32((uint)keys.Count);
        foreach (var key in keys.Values.OrderBy(k => k.KeyId, StringComparer.Ordinal))
            writer.String(key.KeyId).U8((byte)key.Scheme).U8((byte)key.ShareIndex).Bytes(key.PublicKey).Bytes(key.Share)
                .I64(key.StoredAtMs).Bytes(key.NonceSeed).U64(key.NextNonce);
        var bytes = writer.ToArray();
        writer.Clear();
        return bytes;
    }

    private static (Dictionary<string, StoredKey>, uint) DecodeRecords(byte[] plaintext, string path)
    {
        try
        {
            var reader = new WireReader(plaintext, "share store records");
            uint generation = reader.U32();
            int count = reader.Count(1_000_000, 8, "keys");
            var keys = new Dictionary<string, StoredKey>(count, StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                var key = new StoredKey(ProtocolLimits.ReadKeyId(ref reader), Schemes.Read(ref reader), reader.U8(),
                    reader.Bytes(ProtocolLimits.MaxKeyBlobBytes, "public key"), reader.Bytes(ProtocolLimits.MaxKeyBlobBytes, "share"),
                    reader.I64(), reader.Bytes(64, "nonce seed"), reader.U64());
                if (!keys.TryAdd(key.KeyId, key)) throw new ProtocolFormatException($"key {key.KeyId} appears twice");
            }
            reader.End();
            return (keys, generation);
        }
        catch (ProtocolFormatException e)
        {
            throw new ShareStoreException($"share store {path} decrypted but its contents are malformed ({e.Message}); refusing to start", e);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            CryptographicOperations.ZeroMemory(_storeKey);
            foreach (var key in _committed.Values)
            {
                CryptographicOperations.ZeroMemory(key.Share);
                CryptographicOperations.ZeroMemory(key.NonceSeed);
            }
        }
        _lock.Dispose();
        _writeLock.Dispose();
    }
}

/// <summary>Crash-safe file replacement: write a temporary file, fsync it, rename it over the target, fsync the directory.</summary>
public static partial class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> contents, UnixFileMode? mode = null)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = mode ?? (UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(contents);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        SyncDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
    }

    public static void WriteText(string path, string text, UnixFileMode? mode = null) => Write(path, System.Text.Encoding.UTF8.GetBytes(text), mode);

    private static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        int fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0) return; // the rename happened; only its durability across power loss is less certain
        try { fsync(fd); }
        finally { close(fd); }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
