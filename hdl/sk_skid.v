// shiftkit stream library: skid buffer.
//
// A two-entry register slice between stream modules: full throughput, one
// cycle of latency, and a registered s_ready, so no combinational path runs
// from m_ready back to s_ready. When the output is stalled, the beat that was
// offered in the same cycle lands in the skid register; s_ready falls only
// then. Beats are never lost, duplicated or reordered.
module sk_skid #(
    parameter integer W = 8
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] s_data,
    input  wire         s_valid,
    output wire         s_ready,
    output wire [W-1:0] m_data,
    output wire         m_valid,
    input  wire         m_ready
);
    reg [W-1:0] data_q;
    reg [W-1:0] skid_q;
    reg         valid_q;
    reg         skid_valid_q;

    assign s_ready = !skid_valid_q;
    assign m_valid = valid_q;
    assign m_data = data_q;

    always @(posedge clk) begin
        if (rst) begin
            valid_q <= 1'b0;
            skid_valid_q <= 1'b0;
        end else if (!valid_q || m_ready) begin
            valid_q <= skid_valid_q || s_valid;
            skid_valid_q <= 1'b0;
        end else if (s_valid && !skid_valid_q) begin
            skid_valid_q <= 1'b1;
        end
    end

    always @(posedge clk) begin
        if (!valid_q || m_ready) begin
            data_q <= skid_valid_q ? skid_q : s_data;
        end else if (!skid_valid_q) begin
            skid_q <= s_data;
        end
    end
endmodule
