// shiftkit board library: the answer side of the host link (src/link).
//
// Takes one status word per request from sk_link_rx, in request order, and
// answers it on a byte stream (to the UART transmitter) with a frame: SYNC
// (0xA5), a type, a body, a CRC-8 check (polynomial 0x07, initial 0) of the
// type and the body.
//   identify: 'i' and the INFO_LEN bytes of INFO (byte 0 in the low bits).
//   classify: 'c', the sequence number, the class index (2 bytes, little
//       endian: s_user of the image's first output beat), then the image's M
//       output codes of OBITS bits, packed least significant bit first.
//   error: 'e', the sequence number, the error code. An image that went to
//       the network for a request in error (fed) has its M outputs taken and
//       dropped first, so the next answer gets the next image's.
module sk_link_tx #(
    parameter integer OBITS = 8,
    parameter integer M = 10,
    parameter integer IW = 4,
    parameter integer INFO_LEN = 28,
    parameter [INFO_LEN*8-1:0] INFO = 0
) (
    input  wire             clk,
    input  wire             rst,
    input  wire [13:0]      st_data,
    input  wire             st_valid,
    output wire             st_ready,
    input  wire [OBITS-1:0] s_data,
    input  wire [IW-1:0]    s_user,
    input  wire             s_valid,
    output wire             s_ready,
    output wire [7:0]       m_data,
    output wire             m_valid,
    input  wire             m_ready
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (OBITS < 1 || OBITS > 32 || M < 1 || IW < 1 || IW > 16) begin : g_bad_0
            sk_link_tx_needs_OBITS_1_to_32_M_at_least_1_IW_1_to_16 u_bad ();
        end
    endgenerate

    localparam [7:0] SYNC = 8'hA5;
    localparam [1:0] K_IDENTIFY = 2'd1, K_CLASSIFY = 2'd2;
    localparam [2:0] IDLE = 3'd0, HEAD = 3'd1, BODY = 3'd2, CHECK = 3'd3, DRAIN = 3'd4,
                     CLASS = 3'd5;
    localparam integer MW = $clog2(M + 1);
    localparam integer AW = OBITS + 8;
    localparam integer FW = $clog2(AW + 1);
    localparam integer HW = $clog2(INFO_LEN + 3);
    localparam [MW-1:0] M_FULL = M[MW-1:0];
    localparam [MW-1:0] M_ONE = 1;
    localparam [FW-1:0] F_OBITS = OBITS[FW-1:0];
    localparam [FW-1:0] F_BYTE = 8;
    localparam [HW-1:0] H_ONE = 1;
    localparam integer INFO_HEAD_I = INFO_LEN + 2;
    localparam [HW-1:0] INFO_HEAD = INFO_HEAD_I[HW-1:0];
    localparam [HW-1:0] CLASS_HEAD = 5;
    localparam [HW-1:0] ERROR_HEAD = 4;

    function [7:0] crc8;
        input [7:0] crc;
        input [7:0] b;
        integer i;
        reg [7:0] c;
        begin
            c = crc ^ b;
            for (i = 0; i < 8; i = i + 1) c = c[7] ? {c[6:0], 1'b0} ^ 8'h07 : {c[6:0], 1'b0};
            crc8 = c;
        end
    endfunction

    reg [2:0] state_q;
    reg [1:0] kind_q;
    reg [7:0] seq_q;
    reg [2:0] code_q;
    reg [15:0] class_q;
    reg [HW-1:0] idx_q;
    reg [7:0] crc_q;
    reg [7:0] out_q;
    reg out_valid_q;
    reg [AW-1:0] acc_q;
    reg [FW-1:0] fill_q;
    reg [MW-1:0] left_q;

    // The header's bytes: SYNC, the type, then the body's first bytes.
    wire [HW-1:0] head_len = kind_q == K_IDENTIFY ? INFO_HEAD
                            : kind_q == K_CLASSIFY ? CLASS_HEAD : ERROR_HEAD;
    reg [7:0] head_byte;
    always @(*) begin
        case (idx_q)
            0: head_byte = SYNC;
            1: head_byte = kind_q == K_IDENTIFY ? 8'h69 : kind_q == K_CLASSIFY ? 8'h63 : 8'h65;
            2: head_byte = kind_q == K_IDENTIFY ? INFO[7:0] : seq_q;
            3: head_byte = kind_q == K_IDENTIFY ? INFO[15:8]
                          : kind_q == K_CLASSIFY ? class_q[7:0] : {5'd0, code_q};
            4: head_byte = kind_q == K_IDENTIFY ? INFO[23:16] : class_q[15:8];
            default: head_byte = INFO[(idx_q - 2) * 8 +: 8];
        endcase
    end

    wire load = !out_valid_q || m_ready;
    assign m_data = out_q;
    assign m_valid = out_valid_q;
    assign st_ready = state_q == IDLE;
    // Output codes are taken while packing (room for a code), while the class
    // is read off the first beat (not taken then), and while draining.
    wire need_code = state_q == BODY && load && fill_q < F_BYTE && left_q != {MW{1'b0}};
    assign s_ready = need_code || state_q == DRAIN;

    always @(posedge clk) begin
        if (rst) begin
            state_q <= IDLE;
            out_valid_q <= 1'b0;
        end else begin
            if (load) out_valid_q <= 1'b0;
            case (state_q)
                IDLE: begin
                    if (st_valid) begin
                        kind_q <= st_data[1:0];
                        seq_q <= st_data[9:2];
                        code_q <= st_data[12:10];
                        idx_q <= {HW{1'b0}};
                        left_q <= M_FULL;
                        fill_q <= {FW{1'b0}};
                        acc_q <= {AW{1'b0}};
                        state_q <= st_data[13] && st_data[1:0] != K_CLASSIFY ? DRAIN
                                 : st_data[1:0] == K_CLASSIFY ? CLASS : HEAD;
                    end
                end
                DRAIN: begin
                    if (s_valid) begin
                        left_q <= left_q - M_ONE;
                        if (left_q == M_ONE) begin
                            state_q <= HEAD;
                            left_q <= M_FULL;
                        end
                    end
                end
                CLASS: begin
                    // The class index rides on every output beat: read it off
                    // the first without taking it.
                    if (s_valid) begin
                        class_q <= {{(16 - IW){1'b0}}, s_user};
                        state_q <= HEAD;
                    end
                end
                HEAD: begin
                    if (load) begin
                        out_q <= head_byte;
                        out_valid_q <= 1'b1;
                        crc_q <= idx_q == {HW{1'b0}} ? 8'd0 : crc8(crc_q, head_byte);
                        idx_q <= idx_q + H_ONE;
                        if (idx_q + H_ONE == head_len) begin
                            state_q <= kind_q == K_CLASSIFY ? BODY : CHECK;
                        end
                    end
                end
                BODY: begin
                    if (need_code) begin
                        if (s_valid) begin
                            acc_q <= acc_q | ({8'd0, s_data} << fill_q);
                            fill_q <= fill_q + F_OBITS;
                            left_q <= left_q - M_ONE;
                        end
                    end else if (load) begin
                        if (fill_q != {FW{1'b0}}) begin
                            // A whole byte, or the last one padded with zeros.
                            out_q <= acc_q[7:0];
                            out_valid_q <= 1'b1;
                            crc_q <= crc8(crc_q, acc_q[7:0]);
                            acc_q <= acc_q >> 8;
                            fill_q <= fill_q > F_BYTE ? fill_q - F_BYTE : {FW{1'b0}};
                        end else begin
                            state_q <= CHECK;
                        end
                    end
                end
                default: begin
                    if (load) begin
                        out_q <= crc_q;
                        out_valid_q <= 1'b1;
                        state_q <= IDLE;
                    end
                end
            endcase
        end
    end
endmodule
