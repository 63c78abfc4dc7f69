extension StringProtocol {
    /// Without leading and trailing spaces and tabs: HTTP's optional whitespace around a
    /// header value or a list item (what Foundation's `trimmingCharacters(in: .whitespaces)`
    /// did, without linking Foundation into the proxy).
    public var trimmingBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[first...last])
    }
}
