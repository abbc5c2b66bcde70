#!/usr/bin/python3
import cgi, html, os, subprocess
DATA = os.environ.get("VIGIL_DATA", "/tmp") + "/records.txt"
q = cgi.FieldStorage().getfirst("q", "")
print("Content-Type: text/html\n")
print("<h2>Search: %s</h2><pre>" % html.escape(q))
r = subprocess.run(["grep", "-i", "--", q, DATA], capture_output=True, text=True)
print(html.escape(r.stdout[:4000]))
print("</pre>")
