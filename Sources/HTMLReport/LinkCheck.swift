import Foundation

/// Every internal link of a written site must name a file in it.
public enum LinkCheck {
    /// "page → target" for each `href` or `src` that points inside the site at nothing.
    public static func brokenLinks(in directory: String) throws -> [String] {
        var broken: [String] = []
        let pages = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".html") }.sorted()
        for page in pages {
            let html = try String(contentsOfFile: directory + "/" + page, encoding: .utf8)
            for target in references(in: html) where !target.contains("://") && !target.hasPrefix("#") && !target.hasPrefix("mailto:") {
                let path = target.split(separator: "#", maxSplits: 1).first.map(String.init) ?? target
                if !FileManager.default.fileExists(atPath: directory + "/" + path) { broken.append("\(page) → \(target)") }
            }
        }
        return broken
    }

    static func references(in html: String) -> [String] {
        var found: [String] = []
        for attribute in ["href=\"", "src=\""] {
            var rest = Substring(html)
            while let start = rest.range(of: attribute) {
                rest = rest[start.upperBound...]
                guard let end = rest.firstIndex(of: "\"") else { break }
                found.append(String(rest[..<end]).replacingOccurrences(of: "&amp;", with: "&"))
                rest = rest[end...]
            }
        }
        return found
    }
}
