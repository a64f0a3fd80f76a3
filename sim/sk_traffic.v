// shiftkit: the traffic of every testbench, in one place.
//
// Drives a stream's valid (the source side) and ready (the sink side) from a
// seeded xorshift32, the same sequence on every simulator: each cycle, with
// chances `valid_chance` and `ready_chance` in 16, a new beat is offered (once
// the one offered before is taken, from cycle `warmup` on, while beats remain)
// and the sink is ready. A beat offered stays offered until taken
// (AXI4-Stream). `sent` counts the beats taken, so the beat on offer is beat
// `sent`; `cycle` counts clock edges since reset. The generator's timing model
// mirrors this module (codegen::stream::Driver) to predict every handshake.
module sk_traffic (
    input  wire        clk,
    input  wire        rst,
    input  wire [31:0] seed,
    input  wire [31:0] valid_chance,
    input  wire [31:0] ready_chance,
    input  wire [63:0] warmup,
    input  wire [31:0] total,
    input  wire        s_ready,
    output reg         s_valid,
    output reg         m_ready,
    output reg  [31:0] sent,
    output reg  [63:0] cycle
);
    reg [31:0] rng;
    wire [31:0] y1 = rng ^ (rng << 13);
    wire [31:0] y2 = y1 ^ (y1 >> 17);
    wire [31:0] next_rng = y2 ^ (y2 << 5);
    wire [31:0] next_sent = sent + {31'b0, s_valid && s_ready};

    always @(posedge clk) begin
        if (rst) begin
            rng <= seed == 32'd0 ? 32'h1234_5678 : seed;
            s_valid <= 1'b0;
            m_ready <= 1'b0;
            sent <= 32'd0;
            cycle <= 64'd0;
        end else begin
            rng <= next_rng;
            cycle <= cycle + 64'd1;
            sent <= next_sent;
            if (!s_valid || s_ready) begin
                s_valid <= cycle >= warmup && next_sent < total && {28'b0, rng[3:0]} < valid_chance;
            end
            m_ready <= {28'b0, rng[7:4]} < ready_chance;
        end
    end
endmodule
