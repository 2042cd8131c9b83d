/// A fragment of HTML that is safe to insert: built only from escaped text and known elements.
public struct Markup: Sendable, ExpressibleByArrayLiteral {
    public var html: String

    public init(raw html: String) { self.html = html }

    public init(arrayLiteral elements: Markup...) { html = elements.map(\.html).joined() }

    public init(_ parts: [Markup]) { html = parts.map(\.html).joined() }

    /// Text from kernels, patches or logs: always escaped.
    public static func text(_ value: String) -> Markup { Markup(raw: escape(value)) }

    public static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}

/// Elements with escaped attribute values. Tag and attribute names are always literals in this module.
func element(_ tag: String, _ attributes: KeyValuePairs<String, String> = [:], _ children: [Markup] = []) -> Markup {
    var html = "<" + tag
    for (name, value) in attributes { html += " \(name)=\"\(Markup.escape(value))\"" }
    html += ">" + children.map(\.html).joined() + "</\(tag)>"
    return Markup(raw: html)
}

func element(_ tag: String, _ attributes: KeyValuePairs<String, String> = [:], text: String) -> Markup {
    element(tag, attributes, [.text(text)])
}

func link(_ href: String, _ text: String, class className: String? = nil) -> Markup {
    if let className { return element("a", ["href": href, "class": className], text: text) }
    return element("a", ["href": href], text: text)
}

func table(header: [String], rows: [[Markup]], attributes: KeyValuePairs<String, String> = [:]) -> Markup {
    element("table", attributes, [
        element("thead", [:], [element("tr", [:], header.map { element("th", text: $0) })]),
        element("tbody", [:], rows.map { row in element("tr", [:], row.map { element("td", [:], [$0]) }) }),
    ])
}
