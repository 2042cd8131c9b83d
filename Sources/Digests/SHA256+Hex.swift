import Crypto
import Foundation

// Content keys as hex text (cache keys, image names, patch hashes), for every module that hashes.
extension SHA256 {
    /// The SHA-256 of a text's UTF-8 bytes, as 64 lower-case hex digits.
    public static func hex(_ text: String) -> String { hash(data: Data(text.utf8)).hex }

    /// Adds a text's UTF-8 bytes.
    public mutating func update(_ text: String) { update(data: Data(text.utf8)) }
}

extension SHA256.Digest {
    /// 64 lower-case hex digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] }, as: UTF8.self)
    }
}
