/* newlib-nano system calls over semihosting, linked only into firmware that uses stdio (the C core's unit tests):
 * stdout and stderr both go to QEMU's standard output through SYS_WRITE0; malloc (newlib's stdio buffers, the
 * unit tests' scratch arrays) gets the SRAM above the stack. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "semihost.h"

int _write(int fd, const char *buf, int len);
int _read(int fd, char *buf, int len);
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _lseek(int fd, int offset, int whence);
void *_sbrk(ptrdiff_t incr);
void _exit(int status);
int _kill(int pid, int sig);
int _getpid(void);
void m4_before_exit(void);

int _write(int fd, const char *buf, int len)
{
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    char chunk[129];
    int done = 0;
    while (done < len) {
        int n = 0;
        /* SYS_WRITE0 stops at NUL: pass chunks, replacing embedded NULs (never produced by the tests' text). */
        while (n < 128 && done + n < len) {
            chunk[n] = buf[done + n] ? buf[done + n] : '?';
            ++n;
        }
        chunk[n] = '\0';
        m4_puts(chunk);
        done += n;
    }
    return len;
}

int _read(int fd, char *buf, int len)
{
    (void)fd;
    (void)buf;
    (void)len;
    return 0; /* no standard input */
}

int _close(int fd)
{
    (void)fd;
    return 0;
}

int _fstat(int fd, struct stat *st)
{
    (void)fd;
    st->st_mode = S_IFCHR;
    return 0;
}

int _isatty(int fd) { return fd >= 0 && fd <= 2; }

int _lseek(int fd, int offset, int whence)
{
    (void)fd;
    (void)offset;
    (void)whence;
    return 0;
}

/* The heap is the SRAM between the stack and the end of SSRAM2/3 (link.ld): ~3.9 MiB, never touching the stack. */
extern uint8_t __heap_start[], __ram_end[];
static size_t heap_used;

void *_sbrk(ptrdiff_t incr)
{
    const size_t size = (size_t)(__ram_end - __heap_start);
    if (incr < 0 || (size_t)incr > size - heap_used) {
        errno = ENOMEM;
        return (void *)-1;
    }
    void *p = __heap_start + heap_used;
    heap_used += (size_t)incr;
    return p;
}

/* Called by the reset handler when main returns, and by newlib's exit() through _exit. */
void m4_before_exit(void)
{
    fflush(stdout);
    fflush(stderr);
}

void _exit(int status)
{
    m4_before_exit();
    m4_exit(status);
}

int _kill(int pid, int sig)
{
    (void)pid;
    (void)sig;
    errno = EINVAL;
    return -1;
}

int _getpid(void) { return 1; }
