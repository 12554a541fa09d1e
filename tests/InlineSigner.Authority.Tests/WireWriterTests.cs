using ARSoft.Tools.Net;

namespace InlineSigner.Authority.Tests;

/// <summary>Name compression (RFC 1035 §4.1.4) of the message writer, read back by an independent decompressor.</summary>
public sealed class WireWriterTests
{
    /// <summary>Reads the (possibly compressed) name at <paramref name="offset"/>, following pointers, which must point backwards.</summary>
    private static (string Name, int Next) ReadName(byte[] message, int offset)
    {
        var labels = new List<string>();
        int next = -1, p = offset;
        for (int hops = 0; ; hops++)
        {
            Assert.True(hops < 128, "pointer loop");
            byte length = message[p];
            if ((length & 0xC0) == 0xC0)
            {
                int target = ((length & 0x3F) << 8) | message[p + 1];
                Assert.True(target < p, $"pointer at {p} to {target} does not point backwards");
                if (next < 0) next = p + 2;
                p = target;
                continue;
            }
            if (length == 0)
            {
                if (next < 0) next = p + 1;
                return (labels.Count == 0 ? "." : string.Join(".", labels) + ".", next);
            }
            labels.Add(System.Text.Encoding.ASCII.GetString(message, p + 1, length));
            p += 1 + length;
        }
    }

    private static List<string> ReadNames(byte[] message, int length)
    {
        var names = new List<string>();
        for (int p = 0; p < length;)
        {
            var (name, next) = ReadName(message, p);
            names.Add(name);
            p = next + 2; // each name is followed by a 16-bit tag in these tests
        }
        return names;
    }

    private static DomainName Name(string text) => DomainName.Parse(text);

    [Fact]
    public void Many_names_in_one_message_compress_and_read_back_exactly()
    {
        // More names than the writer keeps targets for (512), repeated owners as in a transfer, parents of earlier
        // names, case differences, and names that share only the root.
        var names = new List<string>();
        for (int i = 0; i < 700; i++)
        {
            names.Add($"host{i}.example.com.");
            names.Add($"host{i}.example.com.");
            if (i % 7 == 0) names.Add($"a.b{i}.host{i}.example.com.");
            if (i % 11 == 0) names.Add($"HOST{i}.Example.COM.");
            if (i % 13 == 0) names.Add($"other{i}.org.");
        }
        names.Add("example.com.");
        names.Add("com.");
        var buffer = new byte[1 << 20];
        var writer = new WireWriter(buffer, buffer.Length);
        foreach (var name in names)
        {
            writer.WriteName(Name(name));
            writer.WriteUInt16(0xABCD);
        }
        Assert.False(writer.Overflowed);
        var read = ReadNames(buffer, writer.Position);
        Assert.Equal(names.Select(n => n.ToLowerInvariant()), read.Select(n => n.ToLowerInvariant()));
        // Compression worked: far less than the names written out in full.
        int uncompressed = names.Sum(n => n.Length + 1 + 2);
        Assert.True(writer.Position < uncompressed / 2, $"{writer.Position} octets for {uncompressed} uncompressed");
    }

    [Fact]
    public void Targets_written_after_a_restored_mark_are_forgotten()
    {
        var buffer = new byte[4096];
        var writer = new WireWriter(buffer, buffer.Length);
        for (int i = 0; i < 40; i++)
        {
            writer.WriteName(Name($"n{i}.example.com."));
            writer.WriteUInt16(1);
        }
        var mark = writer.Save();
        for (int i = 0; i < 40; i++)
        {
            writer.WriteName(Name($"gone{i}.example.com."));
            writer.WriteUInt16(2);
        }
        writer.Restore(mark);
        // Over the bytes the forgotten names occupied: if a pointer to them survived, these would decode wrongly.
        var after = new List<string>();
        for (int i = 0; i < 40; i++)
        {
            after.Add($"gone{i}.example.com.");
            after.Add($"x.n{i}.example.com.");
            writer.WriteName(Name(after[^2]));
            writer.WriteUInt16(3);
            writer.WriteName(Name(after[^1]));
            writer.WriteUInt16(3);
        }
        var read = ReadNames(buffer, writer.Position);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"n{i}.example.com.").Concat(after), read);
    }
}
