// shiftkit stream library: the read side of a synchronous RAM as a stream.
//
// A read issued in one cycle delivers its word (rdata) in the next. The queue
// holds up to two words, so reads issue every cycle while the consumer takes a
// beat every cycle, and stop in time when it stalls: a read issues when the
// owner has a word to read (avail) and the queue will have room for it,
// counting the read in flight and a beat leaving this cycle. m_valid is a
// register. Used by sk_fifo and sk_vecbuf.
module sk_readq #(
    parameter integer W = 8
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         avail,
    output wire         issue,
    input  wire [W-1:0] rdata,
    output wire [W-1:0] m_data,
    output wire         m_valid,
    input  wire         m_ready
);
    reg inflight_q;
    reg [1:0] count_q;
    reg [W-1:0] head_q;
    reg [W-1:0] next_q;
    wire pop = m_valid && m_ready;
    // The count after this cycle (at most 2: reads issue only into room).
    wire [1:0] after = count_q + {1'b0, inflight_q} - {1'b0, pop};
    // Room for a read (after <= 1): now, or once this cycle's beat leaves;
    // spelled from the registers so that m_ready passes one gate to issue.
    wire room_now = count_q == 2'd0 || (count_q == 2'd1 && !inflight_q);
    wire room_pop = !(count_q == 2'd2 && inflight_q);
    assign issue = avail && (room_now || (pop && room_pop));
    assign m_valid = count_q != 2'd0;
    assign m_data = head_q;

    always @(posedge clk) begin
        if (rst) begin
            inflight_q <= 1'b0;
            count_q <= 2'd0;
        end else begin
            inflight_q <= issue;
            count_q <= after;
        end
    end

    // head_q, then next_q.
    always @(posedge clk) begin
        if (pop) begin
            if (count_q == 2'd2) begin
                head_q <= next_q;
                if (inflight_q) next_q <= rdata;
            end else begin
                head_q <= rdata;
            end
        end else if (inflight_q) begin
            if (count_q == 2'd0) head_q <= rdata;
            else next_q <= rdata;
        end
    end
endmodule
