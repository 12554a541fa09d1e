using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Authority.Tests;

/// <summary>The listener itself: transports, framing, pipelining, limits, and input that is not DNS at all.</summary>
[Collection("signed zones")]
public sealed class ListenerTests(SignedZonesFixture zones)
{
    /// <summary>How long an answer may take: a deadline, not an expectation (a loaded machine JITs the first query slowly).</summary>
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long to listen for an answer that must not come when no barrier can prove its absence (nothing listens any
    /// more). A slow machine can only make such an answer miss this window, never make a correct listener fail.
    /// </summary>
    private static readonly TimeSpan SilenceWindow = TimeSpan.FromSeconds(2);

    private async Task<DnsListener> StartAsync(DnsListenerOptions options, DnsCounters? counters = null)
    {
        var listener = new DnsListener(new DnsRequestDispatcher(new QueryResponder(zones.Catalog()), metrics: counters), options);
        await listener.StartAsync(CancellationToken.None);
        return listener;
    }

    private static byte[] Query(string name, RecordType type, ushort id, bool edns = true) =>
        ResponderlessEncode(Queries.Make(name, type, dnssec: edns, udpSize: edns ? (ushort)1232 : null, id: id));

    /// <summary>Client-side encoding of a query, through dig-independent means: our own encoder given the same fields.</summary>
    private static byte[] ResponderlessEncode(DnsMessage query)
    {
        var q = query.Questions[0];
        var name = q.Name.Labels;
        var packet = new List<byte> { (byte)(query.TransactionID >> 8), (byte)query.TransactionID, 0, 0, 0, 1, 0, 0, 0, 0, 0, (byte)(query.IsEDnsEnabled ? 1 : 0) };
        foreach (var label in name)
        {
            packet.Add((byte)label.Length);
            packet.AddRange(label.Select(c => (byte)c));
        }
        packet.AddRange([0, (byte)((int)q.RecordType >> 8), (byte)q.RecordType, 0, 1]);
        if (query.IsEDnsEnabled) packet.AddRange([0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0]);
        return packet.ToArray();
    }

    private static async Task<DnsMessage?> UdpExchangeAsync(IPEndPoint server, byte[] packet, TimeSpan? wait = null)
    {
        using var udp = new UdpClient(server.AddressFamily);
        await udp.SendAsync(packet, server);
        using var timeout = new CancellationTokenSource(wait ?? ReplyTimeout);
        try
        {
            var reply = await udp.ReceiveAsync(timeout.Token);
            return DnsMessage.Parse(reply.Buffer);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Asks a valid query from <paramref name="probe"/> until it is answered (UDP may drop a few); fails after <see cref="ReplyTimeout"/>.</summary>
    private static async Task ProbeAsync(UdpClient probe, IPEndPoint server, ushort id)
    {
        using var deadline = new CancellationTokenSource(ReplyTimeout);
        while (true)
        {
            await probe.SendAsync(Query("www.nsec.test", RecordType.A, id), server, deadline.Token);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
            attempt.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                while (true)
                {
                    var reply = await probe.ReceiveAsync(attempt.Token);
                    if (reply.Buffer.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(reply.Buffer) == id) return;
                }
            }
            catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
            {
                // lost, or still queued behind the noise: ask again
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"the listener did not answer a valid query (id {id}) within {ReplyTimeout} while being sent noise");
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="packet"/>, then a valid query from the same socket as a barrier, and returns every datagram
    /// that came back other than the barrier's answer. Datagrams are taken off the socket in the order they arrived, so
    /// once the barrier is answered the packet has been received; the listener's receive loops run side by side, so an
    /// answer to it could still trail the barrier's by a little: a short window after the barrier catches that.
    /// </summary>
    private static async Task<List<byte[]>> UdpRepliesBeforeBarrierAsync(IPEndPoint server, byte[] packet, ushort barrierId)
    {
        using var udp = new UdpClient(server.AddressFamily);
        await udp.SendAsync(packet, server);
        await udp.SendAsync(Query("www.nsec.test", RecordType.A, barrierId), server);
        var others = new List<byte[]>();
        using (var timeout = new CancellationTokenSource(ReplyTimeout))
        {
            while (true)
            {
                UdpReceiveResult reply;
                try
                {
                    reply = await udp.ReceiveAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new Xunit.Sdk.XunitException($"the barrier query (id {barrierId}) got no answer within {ReplyTimeout}");
                }
                if (reply.Buffer.Length >= 12 && BinaryPrimitives.ReadUInt16BigEndian(reply.Buffer) == barrierId && (reply.Buffer[2] & 0x80) != 0) break;
                others.Add(reply.Buffer);
            }
        }
        using var trailing = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        try
        {
            while (true) others.Add((await udp.ReceiveAsync(trailing.Token)).Buffer);
        }
        catch (OperationCanceledException)
        {
        }
        return others;
    }

    private static async Task WriteFramedAsync(NetworkStream stream, params byte[][] messages)
    {
        var all = new List<byte>();
        foreach (var m in messages)
        {
            all.Add((byte)(m.Length >> 8));
            all.Add((byte)m.Length);
            all.AddRange(m);
        }
        await stream.WriteAsync(all.ToArray());
    }

    private static async Task<byte[]?> ReadFramedAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var prefix = new byte[2];
        try
        {
            await stream.ReadExactlyAsync(prefix, cancellationToken);
            var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
            await stream.ReadExactlyAsync(message, cancellationToken);
            return message;
        }
        catch (EndOfStreamException)
        {
            return null;
        }
    }

    [Fact]
    public async Task Serves_IPv6_and_IPv4_endpoints_with_ports_chosen_by_the_OS()
    {
        await using var listener = await StartAsync(new DnsListenerOptions
        {
            Endpoints = [new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.IPv6Loopback, 0)],
        });
        Assert.Equal(2, listener.BoundEndpoints.Count);
        foreach (var endpoint in listener.BoundEndpoints)
        {
            Assert.NotEqual(0, endpoint.Port);
            var reply = await UdpExchangeAsync(endpoint, Query("www.nsec.test", RecordType.A, 11));
            Assert.NotNull(reply);
            Assert.Equal(11, reply.TransactionID);
            Assert.Single(reply.AnswerRecords.OfType(RecordType.A));
        }
    }

    [Fact]
    public async Task Pipelined_TCP_queries_are_all_answered_on_one_connection()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, zones.Port);
        var stream = client.GetStream();
        ushort[] ids = [101, 102, 103, 104, 105];
        await WriteFramedAsync(stream, ids.Select(id => Query(id % 2 == 0 ? "www.nsec.test" : "big.nsec.test", id % 2 == 0 ? RecordType.A : RecordType.Txt, id)).ToArray());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var seen = new List<ushort>();
        for (int i = 0; i < ids.Length; i++)
        {
            var reply = DnsMessage.Parse((await ReadFramedAsync(stream, timeout.Token))!);
            seen.Add(reply.TransactionID);
            Assert.False(reply.IsTruncated);
            if (reply.TransactionID % 2 == 1) Assert.Equal(40, reply.AnswerRecords.OfType(RecordType.Txt).Count()); // TCP: whole answer
        }
        Assert.Equal(ids.OrderBy(i => i), seen.OrderBy(i => i)); // pipelined answers may come in any order (RFC 7766 §7)
    }

    [Fact]
    public async Task Idle_TCP_connections_are_closed()
    {
        await using var listener = await StartAsync(new DnsListenerOptions
        {
            Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)],
            // Short enough to see it happen, long enough that a loaded machine gets the query written after the connect
            // before the connection counts as idle (300 ms did not always cover that).
            TcpIdleTimeout = TimeSpan.FromSeconds(2),
        });
        using var client = new TcpClient();
        await client.ConnectAsync(listener.BoundEndpoints[0]);
        var stream = client.GetStream();
        await WriteFramedAsync(stream, Query("www.nsec.test", RecordType.A, 1));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.NotNull(await ReadFramedAsync(stream, timeout.Token));
        // Nothing more is sent: the server closes the connection after the idle timeout.
        Assert.Equal(0, await stream.ReadAsync(new byte[1], timeout.Token));
    }

    [Fact]
    public async Task Connections_beyond_the_limit_are_closed_and_counted()
    {
        var counters = new DnsCounters();
        await using var listener = await StartAsync(new DnsListenerOptions
        {
            Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)],
            MaxTcpConnections = 2,
        }, counters);
        var endpoint = listener.BoundEndpoints[0];
        using var first = new TcpClient();
        using var second = new TcpClient();
        await first.ConnectAsync(endpoint);
        await second.ConnectAsync(endpoint);
        await WriteFramedAsync(first.GetStream(), Query("www.nsec.test", RecordType.A, 1));
        await WriteFramedAsync(second.GetStream(), Query("www.nsec.test", RecordType.A, 2));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.NotNull(await ReadFramedAsync(first.GetStream(), timeout.Token));
        Assert.NotNull(await ReadFramedAsync(second.GetStream(), timeout.Token));

        using var third = new TcpClient();
        await third.ConnectAsync(endpoint);
        var stream = third.GetStream();
        try
        {
            await WriteFramedAsync(stream, Query("www.nsec.test", RecordType.A, 3));
            Assert.Null(await ReadFramedAsync(stream, timeout.Token));
        }
        catch (IOException)
        {
            // reset by the server: closed as well
        }
        Assert.Equal(1, counters.DroppedFor(DropReason.ConnectionLimit));
    }

    [Fact]
    public async Task Stop_finishes_and_closes_everything()
    {
        // The idle connection would close by itself only after an hour, so a stop it held up would run into the stop
        // token's 30 s (a deadline generous for a loaded machine) instead of finishing early.
        var listener = await StartAsync(new DnsListenerOptions { Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)], TcpIdleTimeout = TimeSpan.FromHours(1) });
        var endpoint = listener.BoundEndpoints[0];
        using var client = new TcpClient();
        await client.ConnectAsync(endpoint);
        Assert.NotNull(await UdpExchangeAsync(endpoint, Query("www.nsec.test", RecordType.A, 5)));
        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await listener.StopAsync(stopTimeout.Token); // an idle connection does not hold the stop up
        Assert.False(stopTimeout.IsCancellationRequested);
        Assert.Equal(0, listener.OpenTcpConnections);
        // Nothing listens any more, so no barrier can be answered: a bounded window (see SilenceWindow).
        Assert.Null(await UdpExchangeAsync(endpoint, Query("www.nsec.test", RecordType.A, 6), SilenceWindow));
        await listener.DisposeAsync();
    }

    /// <summary>Hand-made broken packets, each with what must come back (null: nothing at all).</summary>
    public static TheoryData<string, byte[], ReturnCode?> MalformedPackets()
    {
        byte[] header(ushort qd, ushort an = 0, ushort ns = 0, ushort ar = 0, byte flags1 = 0, byte flags2 = 0) =>
            [0x12, 0x34, flags1, flags2, (byte)(qd >> 8), (byte)qd, (byte)(an >> 8), (byte)an, (byte)(ns >> 8), (byte)ns, (byte)(ar >> 8), (byte)ar];
        byte[] www = [3, (byte)'w', (byte)'w', (byte)'w', 4, (byte)'n', (byte)'s', (byte)'e', (byte)'c', 4, (byte)'t', (byte)'e', (byte)'s', (byte)'t', 0];
        byte[] aIn = [0, 1, 0, 1];
        byte[] opt = [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0];
        return new TheoryData<string, byte[], ReturnCode?>
        {
            { "empty", [], null },
            { "eleven octets", header(0)[..11], null },
            { "a response", [.. header(1, flags1: 0x80), .. www, .. aIn], null },
            { "question count without question", header(1), ReturnCode.FormatError },
            { "no question", header(0), ReturnCode.FormatError },
            { "two questions", [.. header(2), .. www, .. aIn, .. www, .. aIn], ReturnCode.FormatError },
            { "label runs past the end", [.. header(1), 40, (byte)'a', (byte)'b'], ReturnCode.FormatError },
            { "compression pointer to itself", [.. header(1), 0xC0, 12, .. aIn], ReturnCode.FormatError },
            { "compression pointer past the end", [.. header(1), 0xC0, 0xFF, .. aIn], ReturnCode.FormatError },
            { "reserved label type", [.. header(1), 0x80, (byte)'a', 0, .. aIn], ReturnCode.FormatError },
            { "question without type", [.. header(1), .. www], ReturnCode.FormatError },
            { "answer count without records", [.. header(1, an: 65535), .. www, .. aIn], ReturnCode.FormatError },
            { "OPT with a wrong length", [.. header(1, ar: 1), .. www, .. aIn, 0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 9], ReturnCode.FormatError },
            { "two OPT records", [.. header(1, ar: 2), .. www, .. aIn, .. opt, .. opt], ReturnCode.FormatError },
            { "OPT as the question type", [.. header(1), .. www, 0, 41, 0, 1], ReturnCode.FormatError },
            { "opcode 15", [.. header(1, flags1: 15 << 3), .. www, .. aIn], ReturnCode.NotImplemented },
            { "UPDATE", [.. header(1, flags1: 5 << 3), .. www, 0, 6, 0, 1], ReturnCode.NotImplemented },
            { "name over 255 octets", [.. header(1), .. Enumerable.Range(0, 5).SelectMany(_ => (byte[])[63, .. Enumerable.Repeat((byte)'a', 63)]), 0, .. aIn], ReturnCode.FormatError },
            { "trailing garbage", [.. header(1), .. www, .. aIn, 1, 2, 3], ReturnCode.NoError },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedPackets))]
    public async Task Malformed_packets_get_FORMERR_or_nothing(string what, byte[] packet, ReturnCode? expected)
    {
        var server = new IPEndPoint(IPAddress.Loopback, zones.Port);
        if (expected is null)
        {
            // A barrier, not a silence of guessed length: the answer to a valid query sent after it.
            var answers = await UdpRepliesBeforeBarrierAsync(server, packet, 0x5A5A);
            Assert.True(answers.Count == 0, $"{what}: expected no answer, got {answers.Count}: {string.Join(", ", answers.Select(Convert.ToHexString))}");
            return;
        }
        var reply = await UdpExchangeAsync(server, packet);
        Assert.True(reply is not null, $"{what}: no answer");
        Assert.True(expected == reply.ReturnCode, $"{what}: expected {expected}, got {reply.ReturnCode}");
        Assert.Equal(0x1234, reply.TransactionID);
    }

    [Fact]
    public async Task Thousands_of_random_packets_do_not_stop_the_listener()
    {
        var counters = new DnsCounters();
        var errors = new List<Exception>();
        await using var listener = await StartAsync(new DnsListenerOptions
        {
            Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)],
            OnError = (what, e) => { lock (errors) errors.Add(new InvalidOperationException(what, e)); },
        }, counters);
        var server = listener.BoundEndpoints[0];
        var random = new Random(20240601);
        var valid = Query("www.nsec.test", RecordType.A, 1);
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        using var probe = new UdpClient(AddressFamily.InterNetwork);
        for (int i = 0; i < 3000; i++)
        {
            byte[] packet;
            switch (i % 3)
            {
                case 0: // pure noise
                    packet = new byte[random.Next(0, 600)];
                    random.NextBytes(packet);
                    break;
                case 1: // a plausible query header over noise
                    packet = new byte[random.Next(12, 300)];
                    random.NextBytes(packet);
                    packet[2] &= 0x7F;
                    packet[4] = 0;
                    packet[5] = 1;
                    break;
                default: // a valid query with a few octets flipped or cut
                    packet = valid[..random.Next(1, valid.Length + 1)];
                    for (int flips = random.Next(1, 4); flips > 0 && packet.Length > 0; flips--) packet[random.Next(packet.Length)] ^= (byte)random.Next(1, 256);
                    break;
            }
            await udp.SendAsync(packet, server);
            // Now and then wait until the listener has caught up (a valid query behind the noise is answered), so that a
            // loaded machine does not lose most of the noise in a full socket buffer before it is even looked at.
            if (i % 50 == 49) await ProbeAsync(probe, server, (ushort)(10_000 + i));
        }
        // Random frames over TCP too: garbage inside valid framing, then garbage framing.
        for (int i = 0; i < 50; i++)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(server);
            var noise = new byte[random.Next(1, 300)];
            random.NextBytes(noise);
            try
            {
                await WriteFramedAsync(tcp.GetStream(), noise);
                if (i % 2 == 0) await tcp.GetStream().WriteAsync(noise);
            }
            catch (IOException)
            {
            }
        }
        // Still answering, correctly, over both transports; no handler ever failed.
        // UDP is lossy: the noise may still fill the socket buffer, so ask as a resolver would, a few times.
        DnsMessage? reply = null;
        for (int attempt = 0; attempt < 5 && reply is null; attempt++) reply = await UdpExchangeAsync(server, Query("www.nsec.test", RecordType.A, 77));
        Assert.NotNull(reply);
        Assert.Single(reply.AnswerRecords.OfType(RecordType.A));
        using var client = new TcpClient();
        await client.ConnectAsync(server);
        await WriteFramedAsync(client.GetStream(), Query("www.nsec.test", RecordType.A, 78));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(78, DnsMessage.Parse((await ReadFramedAsync(client.GetStream(), timeout.Token))!).TransactionID);
        // The receive loops run side by side: the last few datagrams may still be in hand when the answers above came.
        await Eventually.AssertAsync(() => counters.AnsweredWith(ReturnCode.FormatError) > 100, "over 100 FORMERR answers to the noise",
            () => $"FORMERR {counters.AnsweredWith(ReturnCode.FormatError)}");
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => e.InnerException?.ToString())));
    }
}
