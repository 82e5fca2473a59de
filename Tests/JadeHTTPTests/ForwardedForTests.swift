import JadeCore
import Testing

/// X-Forwarded-For entries and the walk from the right across trusted proxies.
@Suite struct ForwardedForTests {
    @Test func entriesAsProxiesWriteThem() {
        #expect(IPAddress(forwardedEntry: " 192.0.2.1 ")?.description == "192.0.2.1")
        #expect(IPAddress(forwardedEntry: "192.0.2.1:8080")?.description == "192.0.2.1")
        #expect(IPAddress(forwardedEntry: "[2001:db8::1]:443")?.description == "2001:db8::1")
        #expect(IPAddress(forwardedEntry: "[2001:db8::1]")?.description == "2001:db8::1")
        #expect(IPAddress(forwardedEntry: "2001:db8::1")?.description == "2001:db8::1")
        for garbage in [
            "", "unknown", "_hidden", "192.0.2.1:", "192.0.2.1:99999", "192.0.2.1:80:80", "[192.0.2.1]:80",
            "[2001:db8::1", "[2001:db8::1]x", "2001:db8::1:80x", "host.example:80", "192.0.2.1 extra",
        ] {
            #expect(IPAddress(forwardedEntry: garbage) == nil, "\(garbage)")
        }
    }

    @Test func walksFromTheRightAcrossTrustedProxies() {
        let proxies = [CIDR("10.0.0.0/8")!, CIDR("127.0.0.1/32")!]
        func client(_ entries: [Substring], peer: String = "127.0.0.1") -> String? {
            IPAddress.forwardedClient(peer: IPAddress(peer)!, entries: entries) { a in
                proxies.contains { $0.contains(a) }
            }?.description
        }
        // The proxy appended the address it saw; anything left of it is the client's to forge.
        #expect(client(["198.51.100.7", "192.0.2.1"]) == "192.0.2.1")
        // Two trusted hops: the right-most untrusted entry.
        #expect(client(["203.0.113.9", "192.0.2.1", "10.1.2.3"]) == "192.0.2.1")
        #expect(client(["192.0.2.1:5555", "10.1.2.3"]) == "192.0.2.1")
        // Garbage where the proxy's entry should be: an unknown client, never the proxy.
        #expect(client(["192.0.2.1", "unknown"]) == nil)
        #expect(client(["garbage", "10.1.2.3"]) == nil)
        // Garbage left of the client entry does not matter.
        #expect(client(["garbage", "192.0.2.1"]) == "192.0.2.1")
        // Every entry trusted: the left-most.
        #expect(client(["10.9.9.9", "10.1.2.3"]) == "10.9.9.9")
        // An untrusted peer is the client, whatever it claims.
        #expect(client(["192.0.2.1"], peer: "203.0.113.50") == "203.0.113.50")
    }
}
