#!/usr/bin/python3
# Host lookup tool. VULNERABLE: the host field goes to the shell unquoted.
import cgi, html, os
host = cgi.FieldStorage().getfirst("host", "localhost")
print("Content-Type: text/html\n")
print("<h2>Lookup %s</h2><pre>" % html.escape(host))
print(html.escape(os.popen("getent hosts " + host).read()))
print("</pre>")
