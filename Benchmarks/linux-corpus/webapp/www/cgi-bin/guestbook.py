#!/usr/bin/python3
import cgi, html, os, time
DATA = os.environ.get("VIGIL_DATA", "/tmp") + "/guestbook.txt"
form = cgi.FieldStorage()
print("Content-Type: text/html\n")
if os.environ.get("REQUEST_METHOD") == "POST":
    name = form.getfirst("name", "anon")[:40]; msg = form.getfirst("msg", "")[:200]
    with open(DATA, "a") as f:
        f.write("%s\t%s\t%s\n" % (time.strftime("%Y-%m-%d"), name.replace("\t", " "), msg.replace("\n", " ")))
    print("<p>Thanks, %s</p>" % html.escape(name))
print("<h2>Guestbook</h2><ul>")
try:
    for line in open(DATA).readlines()[-20:]:
        print("<li>%s</li>" % html.escape(line.strip()))
except FileNotFoundError:
    pass
print('</ul><form method="post"><input name="name"><input name="msg"><input type="submit"></form>')
