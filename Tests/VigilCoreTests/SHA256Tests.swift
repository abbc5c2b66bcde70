import Foundation
import Testing
import VigilTestSupport
import VigilCore

@Suite struct SHA256Tests {
    @Test func nistVectors() {
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: [UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(of: Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8))
                == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        #expect(SHA256.hex(of: [UInt8](repeating: 0x61, count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingInOddPiecesMatchesOneShot() {
        let message = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var h = SHA256()
        var i = 0
        for size in [1, 63, 64, 65, 3, 200, 13] where i < message.count {
            let end = min(message.count, i + size)
            h.update(message[i..<end])
            i = end
        }
        h.update(message[i...])
        let digest = h.finalize().map { String(format: "%02x", $0) }.joined()
        #expect(digest == SHA256.hex(of: message))
    }

    @Test func hashesFilesAndCachesByStamp() throws {
        let dir = try makeTempDirectory("vigil-sha")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/bin"
        try Data("abc".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try SHA256.hex(ofFile: file) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let hasher = CachingFileHasher()
        #expect(hasher.sha256(path: file) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hasher.sha256(path: dir + "/missing") == nil)
    }
}
