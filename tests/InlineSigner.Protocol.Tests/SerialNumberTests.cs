namespace InlineSigner.Protocol.Tests;

public sealed class SerialNumberTests
{
    [Theory]
    [InlineData(1u, 1u, SerialOrder.Same)]
    [InlineData(2u, 1u, SerialOrder.After)]
    [InlineData(1u, 2u, SerialOrder.Before)]
    [InlineData(0u, 0xFFFFFFFFu, SerialOrder.After)] // wraps: 0 follows 2^32 - 1
    [InlineData(0xFFFFFFFFu, 0u, SerialOrder.Before)]
    [InlineData(0x7FFFFFFFu, 0u, SerialOrder.After)] // 2^31 - 1 ahead: still newer
    [InlineData(0x80000001u, 0u, SerialOrder.Before)] // 2^31 + 1 ahead is 2^31 - 1 behind
    [InlineData(0x80000000u, 0u, SerialOrder.Undefined)] // exactly 2^31 apart: RFC 1982 §3.2 leaves it undefined
    [InlineData(0u, 0x80000000u, SerialOrder.Undefined)]
    [InlineData(0x90000000u, 0x10000000u, SerialOrder.Undefined)]
    public void Compare_follows_RFC_1982(uint a, uint b, SerialOrder expected) => Assert.Equal(expected, SerialNumber.Compare(a, b));

    [Fact]
    public void IsNewer_is_true_only_for_After()
    {
        Assert.True(SerialNumber.IsNewer(2, 1));
        Assert.True(SerialNumber.IsNewer(3, 0xFFFFFFF0));
        Assert.False(SerialNumber.IsNewer(1, 1));
        Assert.False(SerialNumber.IsNewer(1, 2));
        Assert.False(SerialNumber.IsNewer(0x80000000, 0));
        Assert.False(SerialNumber.IsNewer(0, 0x80000000));
    }

    [Fact]
    public void Add_wraps_and_refuses_increments_of_2_to_the_31()
    {
        Assert.Equal(4u, SerialNumber.Add(0xFFFFFFFE, 6));
        Assert.Equal(0x7FFFFFFFu, SerialNumber.Add(0, 0x7FFFFFFF));
        Assert.True(SerialNumber.IsNewer(SerialNumber.Add(0xF0000000, 0x7FFFFFFF), 0xF0000000));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SerialNumber.Add(5, 0x80000000));
        Assert.Contains("2^31 - 1", e.Message, StringComparison.Ordinal);
    }
}
