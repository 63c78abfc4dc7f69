/// The limits an API states for a value beyond its type: what Kubernetes' structural schema
/// (`minLength`, `maxItems`, `pattern`, `x-kubernetes-list-type`) and CEL validation rules
/// (`x-kubernetes-validations`) enforce at apply. Istio's CRDs carry them; the generated
/// schemas (`IstioSchemas+Generated.swift`) copy them field for field.
public struct Constraints: Sendable {
    public var minLength: Int?
    public var maxLength: Int?
    public var minItems: Int?
    public var maxItems: Int?
    public var minProperties: Int?
    public var maxProperties: Int?
    public var pattern: StringPattern?
    /// The pattern as the CRD writes it (published in the JSON Schemas).
    public var patternText: String?
    /// `x-kubernetes-list-type: map`: no two items may share these keys' values.
    public var listMapKeys: [String]
    /// `x-kubernetes-list-type: set`: no two items may be equal.
    public var uniqueItems: Bool
    public var rules: [ValidationRule]

    public init(minLength: Int? = nil, maxLength: Int? = nil, minItems: Int? = nil, maxItems: Int? = nil,
                minProperties: Int? = nil, maxProperties: Int? = nil, pattern: String? = nil,
                listMapKeys: [String] = [], uniqueItems: Bool = false, rules: [ValidationRule] = []) {
        self.minLength = minLength
        self.maxLength = maxLength
        self.minItems = minItems
        self.maxItems = maxItems
        self.minProperties = minProperties
        self.maxProperties = maxProperties
        self.patternText = pattern
        self.pattern = pattern.flatMap(StringPattern.init(rawValue:))
        self.listMapKeys = listMapKeys
        self.uniqueItems = uniqueItems
        self.rules = rules
    }
}

/// The regular expressions Istio's CRDs use, checked natively (each is a simple character
/// class run; a regex engine per string would cost more than the rest of the check).
/// A CRD pattern that is not listed here fails `IstioCRDAgreementTests`.
public enum StringPattern: String, Sendable, CaseIterable {
    /// Empty, or a DNS subdomain (Kubernetes group names).
    case emptyOrDNSSubdomain = #"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#
    /// A Kubernetes kind name.
    case kindName = #"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"#
    /// Empty, or a SHA-256 in lower-case hex.
    case emptyOrSHA256 = #"(^$|^[a-f0-9]{64}$)"#
    /// An HTTP header name.
    case headerName = #"^[-_A-Za-z0-9]+$"#

    /// Whether `text` matches the pattern.
    public func matches(_ text: String) -> Bool {
        let b = Array(text.utf8)
        func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        func isAlpha(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) }
        func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || (c >= 0x30 && c <= 0x39) }
        switch self {
        case .emptyOrDNSSubdomain:
            if b.isEmpty { return true }
            return b.split(separator: 0x2E, omittingEmptySubsequences: false).allSatisfy { label in
                guard let first = label.first, let last = label.last else { return false }
                return isLowerAlnum(first) && isLowerAlnum(last) && label.allSatisfy { isLowerAlnum($0) || $0 == 0x2D }
            }
        case .kindName:
            guard let first = b.first, let last = b.last else { return false }
            return isAlpha(first) && isAlnum(last) && b.allSatisfy { isAlnum($0) || $0 == 0x2D }
        case .emptyOrSHA256:
            return b.isEmpty || (b.count == 64 && b.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        case .headerName:
            return !b.isEmpty && b.allSatisfy { isAlnum($0) || $0 == 0x2D || $0 == 0x5F }
        }
    }
}

/// One CEL validation rule of a CRD: its text, the message the API server gives, and meshc's
/// implementation of it (nil when meshc has none, which `IstioCRDAgreementTests` forbids).
public struct ValidationRule: Sendable {
    public let rule: String
    public let message: String
    public let check: CELCheck?

    public init(_ rule: String, _ message: String) {
        self.rule = rule
        self.message = message
        self.check = CELCheck(rawValue: rule)
    }
}
