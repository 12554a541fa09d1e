namespace InlineSigner.Zones;

/// <summary>Zone rules (one SOA at the apex, CNAME alone, data inside the zone, …). To be completed by the parser work.</summary>
public static class ZoneChecks
{
}
