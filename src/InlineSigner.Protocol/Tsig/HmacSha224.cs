using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace InlineSigner.Protocol;

/// <summary>
/// SHA-256's compression function (FIPS 180-4 §6.2) over any initial hash value; with the SHA-224 initial value and the
/// output cut to 28 octets it is SHA-224 (§6.3), which .NET does not provide. Tests check it against .NET's SHA-256 with
/// the SHA-256 initial value, so the round constants and the padding are pinned by an independent implementation.
/// </summary>
internal sealed class Sha256Core
{
    internal static readonly uint[] Sha224Initial = [0xc1059ed8, 0x367cd507, 0x3070dd17, 0xf70e5939, 0xffc00b31, 0x68581511, 0x64f98fa7, 0xbefa4fa4];
    internal static readonly uint[] Sha256Initial = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

    private static readonly uint[] K =
    [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];

    public const int BlockSize = 64;

    private readonly uint[] _initial;
    private readonly int _outputLength;
    private readonly uint[] _state = new uint[8];
    private readonly byte[] _block = new byte[BlockSize];
    private readonly uint[] _schedule = new uint[64];
    private int _blockFill;
    private ulong _totalLength;

    public Sha256Core(uint[] initial, int outputLength)
    {
        _initial = initial;
        _outputLength = outputLength;
        Reset();
    }

    public void Reset()
    {
        _initial.CopyTo(_state, 0);
        _blockFill = 0;
        _totalLength = 0;
        CryptographicOperations.ZeroMemory(_block);
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        _totalLength += (ulong)data.Length;
        if (_blockFill > 0)
        {
            int take = Math.Min(BlockSize - _blockFill, data.Length);
            data[..take].CopyTo(_block.AsSpan(_blockFill));
            _blockFill += take;
            data = data[take..];
            if (_blockFill < BlockSize) return;
            Compress(_block);
            _blockFill = 0;
        }
        while (data.Length >= BlockSize)
        {
            Compress(data[..BlockSize]);
            data = data[BlockSize..];
        }
        data.CopyTo(_block);
        _blockFill = data.Length;
    }

    /// <summary>Pads, finishes and returns the digest; then resets.</summary>
    public byte[] Finish()
    {
        ulong bits = _totalLength * 8;
        Span<byte> padding = stackalloc byte[BlockSize + 8];
        int padLength = (_blockFill < 56 ? 56 : 120) - _blockFill;
        padding.Clear();
        padding[0] = 0x80;
        BinaryPrimitives.WriteUInt64BigEndian(padding[padLength..], bits);
        Append(padding[..(padLength + 8)]);
        var output = new byte[32];
        for (int i = 0; i < 8; i++) BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(i * 4), _state[i]);
        Reset();
        return output[.._outputLength];
    }

    private void Compress(ReadOnlySpan<byte> block)
    {
        var w = _schedule;
        for (int t = 0; t < 16; t++) w[t] = BinaryPrimitives.ReadUInt32BigEndian(block[(t * 4)..]);
        for (int t = 16; t < 64; t++)
        {
            uint s0 = BitOperations.RotateRight(w[t - 15], 7) ^ BitOperations.RotateRight(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint s1 = BitOperations.RotateRight(w[t - 2], 17) ^ BitOperations.RotateRight(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = unchecked(w[t - 16] + s0 + w[t - 7] + s1);
        }
        uint a = _state[0], b = _state[1], c = _state[2], d = _state[3], e = _state[4], f = _state[5], g = _state[6], h = _state[7];
        for (int t = 0; t < 64; t++)
        {
            uint sum1 = BitOperations.RotateRight(e, 6) ^ BitOperations.RotateRight(e, 11) ^ BitOperations.RotateRight(e, 25);
            uint choose = (e & f) ^ (~e & g);
            uint t1 = unchecked(h + sum1 + choose + K[t] + w[t]);
            uint sum0 = BitOperations.RotateRight(a, 2) ^ BitOperations.RotateRight(a, 13) ^ BitOperations.RotateRight(a, 22);
            uint majority = (a & b) ^ (a & c) ^ (b & c);
            uint t2 = unchecked(sum0 + majority);
            h = g;
            g = f;
            f = e;
            e = unchecked(d + t1);
            d = c;
            c = b;
            b = a;
            a = unchecked(t1 + t2);
        }
        unchecked
        {
            _state[0] += a; _state[1] += b; _state[2] += c; _state[3] += d;
            _state[4] += e; _state[5] += f; _state[6] += g; _state[7] += h;
        }
    }
}

/// <summary>HMAC (RFC 2104) over SHA-224, for the hmac-sha224 TSIG algorithm (RFC 4635).</summary>
internal sealed class HmacSha224 : TsigMac
{
    private readonly Sha256Core _inner = new(Sha256Core.Sha224Initial, 28);
    private readonly Sha256Core _outer = new(Sha256Core.Sha224Initial, 28);
    private readonly byte[] _innerPad = new byte[Sha256Core.BlockSize];
    private readonly byte[] _outerPad = new byte[Sha256Core.BlockSize];

    public HmacSha224(ReadOnlySpan<byte> secret)
    {
        Span<byte> key = stackalloc byte[Sha256Core.BlockSize];
        key.Clear();
        if (secret.Length > Sha256Core.BlockSize)
        {
            _inner.Append(secret);
            _inner.Finish().CopyTo(key);
        }
        else
        {
            secret.CopyTo(key);
        }
        for (int i = 0; i < key.Length; i++)
        {
            _innerPad[i] = (byte)(key[i] ^ 0x36);
            _outerPad[i] = (byte)(key[i] ^ 0x5c);
        }
        CryptographicOperations.ZeroMemory(key);
        _inner.Append(_innerPad);
    }

    public override void Append(ReadOnlySpan<byte> data) => _inner.Append(data);

    public override byte[] FinishAndReset()
    {
        var innerDigest = _inner.Finish();
        _outer.Append(_outerPad);
        _outer.Append(innerDigest);
        var mac = _outer.Finish();
        _inner.Append(_innerPad);
        return mac;
    }

    public override void Dispose()
    {
        CryptographicOperations.ZeroMemory(_innerPad);
        CryptographicOperations.ZeroMemory(_outerPad);
        _inner.Reset();
        _outer.Reset();
    }
}
