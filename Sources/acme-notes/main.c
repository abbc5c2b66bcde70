/*
 * acme-notes: the demo's service, a small line-oriented TCP server that is visibly not
 * Vigil. It listens on 127.0.0.1 (an ephemeral port, printed on its first line of output)
 * and answers one request per connection:
 *
 *   GET NAME      the first line of /etc/NAME (letters, digits, '-', '.')
 *   RUN CMD       only with --vulnerable: hands CMD to /bin/sh, the command-injection
 *                 flaw the demo attacks
 *
 * It forks nothing and runs nothing else, so its learned baseline is small and exact.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int vulnerable;

static void reply(int fd, const char *text)
{
    size_t off = 0, len = strlen(text);
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

static void get(int fd, const char *name)
{
    char path[128] = "/etc/";
    size_t j = strlen(path);
    for (size_t i = 0; name[i] && j < sizeof path - 1; i++)
        if (isalnum((unsigned char)name[i]) || name[i] == '-' || name[i] == '.')
            path[j++] = name[i];
    path[j] = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        reply(fd, "ERR no such entry\n");
        return;
    }
    char line[256] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    fclose(f);
    line[strcspn(line, "\n")] = 0;
    char out[300];
    snprintf(out, sizeof out, "OK %s\n", line);
    reply(fd, out);
}

static void serve(int fd)
{
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return;
    buf[n] = 0;
    buf[strcspn(buf, "\r\n")] = 0;
    if (strncmp(buf, "GET ", 4) == 0) {
        get(fd, buf + 4);
    } else if (vulnerable && strncmp(buf, "RUN ", 4) == 0) {
        int status = system(buf + 4); /* the flaw */
        char out[64];
        snprintf(out, sizeof out, "OK ran, status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        reply(fd, out);
    } else {
        reply(fd, "ERR unknown request\n");
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vulnerable") == 0) {
            vulnerable = 1;
        } else {
            fprintf(stderr, "usage: acme-notes [--vulnerable]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 64) != 0 ||
        getsockname(s, (struct sockaddr *)&addr, &len) != 0) {
        perror("acme-notes: cannot listen on 127.0.0.1");
        return 1;
    }
    printf("%u\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        serve(c);
        close(c);
    }
}
