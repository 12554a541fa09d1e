; Sample unsigned zone for InlineSigner's embedded default.
; Edit it, bump the serial, and the running signer picks the change up.
$ORIGIN example.com.
$TTL 3600

@       IN  SOA ns1 hostmaster (
                2026112401 ; serial
                7200       ; refresh
                3600       ; retry
                1209600    ; expire
                300 )      ; minimum (negative caching TTL)

        IN  NS      ns1
        IN  NS      ns2.example.net.
        IN  MX      10 mail
        IN  TXT     "v=spf1 mx -all"
        IN  CAA     0 issue "letsencrypt.org"

ns1         IN  A       192.0.2.53
            IN  AAAA    2001:db8::53
mail    300 IN  A       192.0.2.25
www         IN  CNAME   @
ftp         IN  CNAME   www
_sip._tcp   IN  SRV     10 60 5060 sip
sip         IN  A       192.0.2.60
txt         IN  TXT     "a string with \"quotes\"" "and a \\backslash" "semi\;colon"

; an empty non-terminal: b.example.com exists only because a.b.example.com does
a.b         IN  A       192.0.2.10

; a wildcard
*.wild      IN  A       192.0.2.99
            IN  TXT     "wildcard"

; a delegation with glue
sub         IN  NS      ns1.sub
            IN  NS      ns.example.net.
ns1.sub     IN  A       192.0.2.100
