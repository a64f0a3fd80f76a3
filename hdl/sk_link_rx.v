// shiftkit board library: the request side of the host link (src/link).
//
// Reads request frames from a byte stream (the UART receiver's): SYNC (0xA5),
// a type, a body, a CRC-8 check (polynomial 0x07, initial 0) of the type and
// the body. Bytes outside a frame are skipped until a SYNC.
//   'I' identify: no body.
//   'C' classify: a sequence number, then N input codes of BITS bits packed
//       least significant bit first; every code goes out on m_data (one code a
//       beat, m_last on the image's last) as soon as its bits are in.
// Each request ends with one status word on st_*, in request order:
//   {fed, code[2:0], seq[7:0], kind[1:0]}: kind 1 identify, 2 classify (code
//   0), 3 error (code 1 check, 2 unknown type, 3 line, 4 truncated; seq 0xFF
//   when the frame had no sequence number yet); fed: an image went to the
//   network and its outputs are to be taken (and dropped for an error).
// A frame cut short, by `line_error` (a broken byte) or by TIMEOUT cycles of
// silence inside it, still sends the network a whole image: the missing codes
// are zeros, and the status says why. A byte arriving while the parser waits
// on the network is held in `s_*` (the caller buffers the line before it).
module sk_link_rx #(
    parameter integer BITS = 8,
    parameter integer N = 64,
    parameter integer TIMEOUT = 100000
) (
    input  wire            clk,
    input  wire            rst,
    input  wire [7:0]      s_data,
    input  wire            s_valid,
    output wire            s_ready,
    input  wire            line_error,
    output wire [BITS-1:0] m_data,
    output wire            m_valid,
    output wire            m_last,
    input  wire            m_ready,
    output wire [13:0]     st_data,
    output wire            st_valid,
    input  wire            st_ready
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (BITS < 1 || BITS > 16) begin : g_bad_0
            sk_link_rx_needs_BITS_from_1_to_16 u_bad ();
        end
        if (N < 1 || TIMEOUT < 2) begin : g_bad_1
            sk_link_rx_needs_N_and_TIMEOUT_at_least_1_and_2 u_bad ();
        end
    endgenerate

    localparam [7:0] SYNC = 8'hA5;
    localparam [7:0] T_IDENTIFY = 8'h49;
    localparam [7:0] T_CLASSIFY = 8'h43;
    localparam [1:0] K_IDENTIFY = 2'd1, K_CLASSIFY = 2'd2, K_ERROR = 2'd3;
    localparam [2:0] E_CHECK = 3'd1, E_TYPE = 3'd2, E_LINE = 3'd3, E_TRUNC = 3'd4;
    localparam [7:0] NO_SEQ = 8'hFF;

    localparam [2:0] HUNT = 3'd0, TYPE = 3'd1, SEQ = 3'd2, BODY = 3'd3, CHECK = 3'd4,
                     PAD = 3'd5, STATUS = 3'd6;
    localparam integer NW = $clog2(N + 1);
    localparam integer TW = $clog2(TIMEOUT + 1);
    localparam integer AW = BITS + 8;
    localparam integer FW = $clog2(AW + 1);
    localparam [NW-1:0] N_FULL = N[NW-1:0];
    localparam [NW-1:0] N_ONE = 1;
    localparam [TW-1:0] T_LAST = TIMEOUT[TW-1:0];
    localparam [TW-1:0] T_ONE = 1;
    localparam [FW-1:0] F_BITS = BITS[FW-1:0];
    localparam [FW-1:0] F_BYTE = 8;

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
    reg [7:0] crc_q;
    reg [7:0] seq_q;
    reg [1:0] kind_q;
    reg [2:0] code_q;
    reg fed_q;
    reg identify_q;
    // The body's bits not yet sent as codes, and how many.
    reg [AW-1:0] acc_q;
    reg [FW-1:0] fill_q;
    reg [NW-1:0] left_q;
    reg [TW-1:0] quiet_q;

    wire in_frame = state_q == TYPE || state_q == SEQ || state_q == BODY || state_q == CHECK;
    wire codes_left = left_q != {NW{1'b0}};
    // The body holds a whole code still to send (bits past the last code are
    // the last byte's padding).
    wire have_code = fill_q >= F_BITS && codes_left;
    // A byte is taken when the parser can use it: always while hunting or
    // reading the header and check, in the body when the code bits run short.
    assign s_ready = state_q == HUNT || state_q == TYPE || state_q == SEQ || state_q == CHECK
                     || (state_q == BODY && !have_code && codes_left);
    wire take = s_valid && s_ready;
    assign m_valid = (state_q == BODY && have_code) || state_q == PAD;
    assign m_data = state_q == PAD ? {BITS{1'b0}} : acc_q[BITS-1:0];
    assign m_last = left_q == N_ONE;
    wire give = m_valid && m_ready;
    assign st_valid = state_q == STATUS;
    assign st_data = {fed_q, code_q, seq_q, kind_q};
    wire timeout = in_frame && quiet_q == T_LAST;
    // A frame broken by the line or by silence: the rest of its image is
    // zeros, then an error status.
    wire cut = (in_frame && line_error) || timeout;

    always @(posedge clk) begin
        if (rst) begin
            state_q <= HUNT;
            quiet_q <= {TW{1'b0}};
            fed_q <= 1'b0;
        end else begin
            // Silence: cycles the parser waits for a byte that does not come
            // (not the cycles it waits on the network).
            quiet_q <= in_frame && s_ready && !s_valid ? quiet_q + T_ONE : {TW{1'b0}};
            if (cut) begin
                kind_q <= K_ERROR;
                code_q <= line_error ? E_LINE : E_TRUNC;
                state_q <= fed_q && codes_left ? PAD : STATUS;
            end else begin
                case (state_q)
                    HUNT: begin
                        if (line_error) begin
                            kind_q <= K_ERROR;
                            code_q <= E_LINE;
                            seq_q <= NO_SEQ;
                            fed_q <= 1'b0;
                            state_q <= STATUS;
                        end else if (take && s_data == SYNC) begin
                            state_q <= TYPE;
                            crc_q <= 8'd0;
                            seq_q <= NO_SEQ;
                            fed_q <= 1'b0;
                        end
                    end
                    TYPE: begin
                        if (take) begin
                            crc_q <= crc8(8'd0, s_data);
                            if (s_data == T_CLASSIFY) begin
                                state_q <= SEQ;
                                identify_q <= 1'b0;
                            end else if (s_data == T_IDENTIFY) begin
                                state_q <= CHECK;
                                identify_q <= 1'b1;
                            end else if (s_data != SYNC) begin
                                kind_q <= K_ERROR;
                                code_q <= E_TYPE;
                                state_q <= STATUS;
                            end
                        end
                    end
                    SEQ: begin
                        if (take) begin
                            crc_q <= crc8(crc_q, s_data);
                            seq_q <= s_data;
                            fed_q <= 1'b1;
                            left_q <= N_FULL;
                            acc_q <= {AW{1'b0}};
                            fill_q <= {FW{1'b0}};
                            state_q <= BODY;
                        end
                    end
                    BODY: begin
                        if (take) begin
                            crc_q <= crc8(crc_q, s_data);
                            acc_q <= acc_q | ({{BITS{1'b0}}, s_data} << fill_q);
                            fill_q <= fill_q + F_BYTE;
                        end else if (give) begin
                            acc_q <= acc_q >> BITS;
                            fill_q <= fill_q - F_BITS;
                            left_q <= left_q - N_ONE;
                        end else if (!codes_left) begin
                            // Every code sent: the rest of the last byte is padding.
                            state_q <= CHECK;
                        end
                    end
                    CHECK: begin
                        if (take) begin
                            if (s_data == crc_q) begin
                                kind_q <= identify_q ? K_IDENTIFY : K_CLASSIFY;
                                code_q <= 3'd0;
                            end else begin
                                kind_q <= K_ERROR;
                                code_q <= E_CHECK;
                            end
                            state_q <= STATUS;
                        end
                    end
                    PAD: begin
                        if (give) begin
                            left_q <= left_q - N_ONE;
                            if (left_q == N_ONE) state_q <= STATUS;
                        end
                    end
                    default: begin
                        if (st_ready) state_q <= HUNT;
                    end
                endcase
            end
        end
    end
endmodule
