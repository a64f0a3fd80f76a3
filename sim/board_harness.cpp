// shiftkit: the simulated board.
//
// Runs a board top (built by Verilator as Vboard, its PLL replaced by
// sim/sb_pll40_pad.v) as if it were on the board: a pseudo-terminal stands
// for the USB UART bridge. Bytes the host writes to the terminal go onto
// `uart_rx` as 8N1 bit waveforms of CLKS clock cycles a bit; what the board
// sends on `uart_tx` is sampled in the middle of each bit and written back to
// the terminal. The host opens the terminal like /dev/ttyUSB1.
//
// The line runs at the rate the host set on its side of the terminal, as a
// real bridge does: a host at the board's baud is heard; a host at another
// rate makes waveforms of another length, which the board's UART reads as
// garbage, as it would on the bench.
//
// Usage: Vboard CLKS BAUD PTY_FILE CYCLES_FILE
//   CLKS: clock cycles a UART bit at the board's rate BAUD; PTY_FILE: where
//   the terminal's path is written once it is open; CYCLES_FILE: where the
//   board clock cycles simulated are written when the harness stops (SIGTERM
//   or SIGINT), with the cycles of the first byte in and the last byte out.
//
// <asm/termbits.h> (termios2, any baud) and <termios.h> cannot be included
// together, so the terminal is set raw here by hand.
#include <asm/termbits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <deque>
#include <memory>

#include "Vboard.h"
#include "verilated.h"

static volatile sig_atomic_t stopping = 0;

static void on_signal(int) { stopping = 1; }

// The baud rate the terminal is set to (0 when it cannot be read).
static long terminal_baud(int fd) {
    struct termios2 t;
    if (ioctl(fd, TCGETS2, &t) != 0) return 0;
    if ((t.c_cflag & CBAUD) == BOTHER) return (long)t.c_ospeed;
    static const struct {
        unsigned code;
        long baud;
    } rates[] = {{B9600, 9600},       {B19200, 19200},     {B38400, 38400},     {B57600, 57600},
                 {B115200, 115200},   {B230400, 230400},   {B460800, 460800},   {B500000, 500000},
                 {B576000, 576000},   {B921600, 921600},   {B1000000, 1000000}, {B1152000, 1152000},
                 {B1500000, 1500000}, {B2000000, 2000000}, {B2500000, 2500000}, {B3000000, 3000000},
                 {B3500000, 3500000}, {B4000000, 4000000}};
    for (const auto& r : rates)
        if ((t.c_cflag & CBAUD) == r.code) return r.baud;
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s CLKS BAUD PTY_FILE CYCLES_FILE\n", argv[0]);
        return 2;
    }
    const long board_clks = atol(argv[1]);
    const long board_baud = atol(argv[2]);
    if (board_clks < 4 || board_baud <= 0) {
        fprintf(stderr, "CLKS must be at least 4 and BAUD above 0\n");
        return 2;
    }
    long clks = board_clks;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        perror("posix_openpt");
        return 1;
    }
    const char* name = ptsname(master);
    // Hold the terminal's other side open, in raw mode, so that the master
    // never sees a hang-up between the host's opens.
    int slave = open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) {
        perror("open pty");
        return 1;
    }
    struct termios2 t;
    if (ioctl(slave, TCGETS2, &t) == 0) {
        t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        t.c_oflag &= ~OPOST;
        t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        t.c_cflag &= ~(CSIZE | PARENB);
        t.c_cflag |= CS8;
        ioctl(slave, TCSETS2, &t);
    }
    fcntl(master, F_SETFL, O_NONBLOCK);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vboard>(ctx.get());
    top->uart_rx = 1;
    top->clk_osc = 0;
    top->eval();

    std::deque<unsigned char> to_board;
    unsigned char out[4096];
    size_t out_len = 0;
    // The waveform on uart_rx: the frame being sent, its bits left, the
    // cycles left of the current bit.
    unsigned frame = 0;
    int bits_left = 0;
    long tick = 0;
    // The sampler of uart_tx: 0 idle, else waiting for the middle of bit k.
    int rx_bit = -1;
    long rx_wait = 0;
    unsigned rx_byte = 0;
    unsigned long long cycle = 0, first_in = 0, last_out = 0;
    bool seen_in = false;

    // The terminal is published once the board is up: configured and out of
    // its power-on reset (the host's first bytes would be lost before).
    const unsigned long long up = 1ull << 14;
    while (!stopping) {
        if (cycle == up) {
            FILE* f = fopen(argv[3], "w");
            if (!f) {
                perror(argv[3]);
                return 1;
            }
            fprintf(f, "%s\n", name);
            fclose(f);
        }
        // The line into the board, for this cycle.
        if (bits_left == 0 && !to_board.empty()) {
            frame = (1u << 9) | ((unsigned)to_board.front() << 1);
            to_board.pop_front();
            bits_left = 10;
            tick = 0;
            if (!seen_in) {
                seen_in = true;
                first_in = cycle;
            }
        }
        top->uart_rx = bits_left ? (frame & 1) : 1;
        top->clk_osc = 1;
        top->eval();
        top->clk_osc = 0;
        top->eval();
        ++cycle;
        if (bits_left && ++tick == clks) {
            tick = 0;
            frame >>= 1;
            --bits_left;
        }
        // The line out of the board: a fall starts a byte; sample mid-bit.
        const int tx = top->uart_tx;
        if (rx_bit < 0) {
            if (!tx) {
                rx_bit = 0;
                rx_wait = clks / 2;  // at least 1: clks is at least 2
                rx_byte = 0;
            }
        } else if (--rx_wait == 0) {
            if (rx_bit >= 1 && rx_bit <= 8) rx_byte |= (unsigned)tx << (rx_bit - 1);
            if (rx_bit == 0 && tx) {
                rx_bit = -1;  // a glitch, not a start bit
            } else if (rx_bit == 9) {
                if (tx && out_len < sizeof out) out[out_len++] = (unsigned char)rx_byte;
                last_out = cycle;
                rx_bit = -1;
            } else {
                ++rx_bit;
                rx_wait = clks;
            }
        }
        // The terminal, now and then: bytes in, bytes out.
        if ((cycle & 255) == 0 && cycle > up) {
            unsigned char buf[1024];
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0 && bits_left == 0 && rx_bit < 0) {
                // The host's rate, between bytes: the length of a bit here.
                const long host = terminal_baud(slave);
                clks = host > 0 ? (board_clks * board_baud + host / 2) / host : board_clks;
                if (clks < 2) clks = 2;
            }
            for (ssize_t i = 0; i < n; ++i) to_board.push_back(buf[i]);
            if (out_len) {
                ssize_t w = write(master, out, out_len);
                if (w > 0) {
                    memmove(out, out + w, out_len - (size_t)w);
                    out_len -= (size_t)w;
                }
            }
            // An idle board: no need to spin at full speed.
            if (n <= 0 && bits_left == 0 && rx_bit < 0 && out_len == 0 && to_board.empty() &&
                (cycle & 65535) == 0) {
                usleep(200);
            }
        }
    }
    top->final();
    FILE* c = fopen(argv[4], "w");
    if (c) {
        fprintf(c, "cycles %llu first_in %llu last_out %llu\n", cycle, first_in, last_out);
        fclose(c);
    }
    close(slave);
    close(master);
    return 0;
}
