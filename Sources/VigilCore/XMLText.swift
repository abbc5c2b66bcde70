/// Text made safe for XML content and attribute values (the SVG that `vigil map` and
/// `vigil eval --roc` draw).
public enum XMLText {
    public static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
