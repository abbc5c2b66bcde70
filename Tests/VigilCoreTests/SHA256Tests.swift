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

@Suite struct MD5Tests {
    @Test(arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func rfc1321Vectors(input: String, digest: String) {
        #expect(MD5.hex(Array(input.utf8)) == digest)
    }

    @Test func chunksMakeTheSameDigestAsOneBuffer() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var m = MD5()
        m.update(data[0..<63]); m.update(data[63..<64]); m.update(data[64...])
        #expect(m.hexDigest() == MD5.hex(data))
    }
}
