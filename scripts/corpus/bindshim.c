/* LD_PRELOAD shim: bind outgoing IPv4 TCP sockets to $AUDITLOG_BIND_ADDR
 * before connect(). Used because the Debian 12 `mariadb` client (10.11)
 * has no --bind-address option (MySQL's client has one).
 * Build: cc -shared -fPIC -O2 -o bindshim.so bindshim.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*real_connect)(int, const struct sockaddr *, socklen_t);
    if (!real_connect)
        real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    const char *src = getenv("AUDITLOG_BIND_ADDR");
    if (src && *src && addr && addr->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = 0;
        if (inet_pton(AF_INET, src, &sin.sin_addr) == 1)
            bind(fd, (struct sockaddr *)&sin, sizeof sin); /* best effort */
    }
    return real_connect(fd, addr, len);
}
