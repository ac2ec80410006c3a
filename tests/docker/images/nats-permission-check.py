# Speaks the NATS protocol with a service's credentials and tries to publish a signing request;
# prints the server's answer. Usage: python3 nats-permission-check.py HOST USER PASSWORD SUBJECT
import json
import socket
import sys

host, user, password, subject = sys.argv[1:5]
connection = socket.create_connection((host, 4222), timeout=5)
connection.recv(4096)  # INFO
connect = {"user": user, "pass": password, "verbose": False, "pedantic": False, "protocol": 1}
connection.sendall(("CONNECT " + json.dumps(connect) + "\r\nPUB " + subject + " _INBOX_" + user + ".check 2\r\n{}\r\nPING\r\n").encode())
answer = b""
while b"PONG" not in answer and b"-ERR" not in answer:
    chunk = connection.recv(4096)
    if not chunk:
        break
    answer += chunk
print(answer.decode(errors="replace").strip())
