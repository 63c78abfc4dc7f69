/// The DNS wire format, as far as the DNS proxy needs it (RFC 1035): a query's id, flags and
/// first question, and the answer for a name the mesh knows. Every read is bounds-checked: a
/// hostile or truncated packet gives nil, never a crash or a loop.
struct DNSQuery: Equatable {
    static let typeA: UInt16 = 1
    static let typeAAAA: UInt16 = 28
    static let classIN: UInt16 = 1

    let id: UInt16
    let flags: UInt16
    /// The question's name, lowercased, without the trailing dot.
    let name: String
    let type: UInt16
    let qclass: UInt16
    /// Where the question ends (the answer echoes the question's bytes).
    let questionEnd: Int

    /// A standard query (QR 0, opcode 0) with at least one question; nil otherwise.
    static func parse(_ bytes: [UInt8]) -> DNSQuery? {
        guard bytes.count >= 12 else { return nil }
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        let flags = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        let qdcount = UInt16(bytes[4]) << 8 | UInt16(bytes[5])
        guard flags & 0x8000 == 0, (flags >> 11) & 0xF == 0, qdcount >= 1 else { return nil }
        var i = 12
        var labels: [String] = []
        var total = 0
        // Questions carry no compression pointers; a pointer or an overlong name is refused.
        while true {
            guard i < bytes.count else { return nil }
            let len = Int(bytes[i])
            i += 1
            if len == 0 { break }
            guard len <= 63, i + len <= bytes.count else { return nil }
            total += len + 1
            guard total <= 255 else { return nil }
            labels.append(String(decoding: bytes[i..<i + len], as: UTF8.self).lowercased())
            i += len
        }
        guard i + 4 <= bytes.count else { return nil }
        let type = UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
        let qclass = UInt16(bytes[i + 2]) << 8 | UInt16(bytes[i + 3])
        return DNSQuery(id: id, flags: flags, name: labels.joined(separator: "."), type: type, qclass: qclass, questionEnd: i + 4)
    }

    /// The answer to this query from the mesh: `address` as an A record for an A question,
    /// no record (NOERROR, no data) for AAAA and other types of a known name. The question is
    /// echoed as asked (its case included).
    func answer(_ query: [UInt8], address: String, ttl: UInt32 = 30) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF)]
        // QR, opcode 0, AA, the client's RD, RA; NOERROR.
        let rd = flags & 0x0100
        let f: UInt16 = 0x8000 | 0x0400 | rd | 0x0080
        out += [UInt8(f >> 8), UInt8(f & 0xFF)]
        let octets = address.split(separator: ".").compactMap { UInt8($0) }
        let hasRecord = type == Self.typeA && qclass == Self.classIN && octets.count == 4
        out += [0, 1, 0, hasRecord ? 1 : 0, 0, 0, 0, 0]
        out += query[12..<questionEnd]
        if hasRecord {
            out += [0xC0, 0x0C, 0, 1, 0, 1]
            out += [UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF)]
            out += [0, 4] + octets
        }
        return out
    }

    /// SERVFAIL for this query (no resolver answered).
    func failure(_ query: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF)]
        let f: UInt16 = 0x8000 | (flags & 0x0100) | 0x0080 | 2
        out += [UInt8(f >> 8), UInt8(f & 0xFF), 0, 1, 0, 0, 0, 0, 0, 0]
        out += query[12..<questionEnd]
        return out
    }
}

/// What the DNS proxy answers itself: the mesh's names (from the snapshot in force) and the
/// application's search path (from the pod's resolv.conf).
struct DNSNames {
    /// Search domains (resolv.conf `search`), lowercased, without dots at the ends.
    let search: [String]

    /// The virtual IP for `name`, trying it as asked and then without each search domain it
    /// ends in (`reviews.corp.example` under `search corp.example` is `reviews`).
    func resolve(_ name: String, _ lookup: (String) -> String?) -> String? {
        if let ip = lookup(name) { return ip }
        for domain in search where name.hasSuffix("." + domain) {
            let stripped = String(name.dropLast(domain.count + 1))
            if let ip = lookup(stripped) { return ip }
        }
        return nil
    }

    /// `nameserver` and `search` lines of a resolv.conf.
    static func parseResolvConf(_ text: String) -> (nameservers: [String], search: [String]) {
        var servers: [String] = [], search: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first, !first.hasPrefix("#"), !first.hasPrefix(";") else { continue }
            switch first {
            case "nameserver" where words.count >= 2: servers.append(String(words[1]))
            case "search", "domain":
                search = words.dropFirst().map { String($0).lowercased().trimmingDots }
            default: break
            }
        }
        return (servers, search.filter { !$0.isEmpty })
    }
}

extension String {
    var trimmingDots: String {
        var s = Substring(self)
        while s.hasPrefix(".") { s = s.dropFirst() }
        while s.hasSuffix(".") { s = s.dropLast() }
        return String(s)
    }
}
