;; PNG rows from 32-bit BGRX pixels with WebAssembly SIMD: the source of pack-rows.wasm.ts, assembled by
;; scripts/wasm.mjs (wabt). Never edit the generated module; edit this file and run `node scripts/wasm.mjs`.
;;
;; pack(src, stride, width, rows, dst, sub): for each of `rows` rows of `width` BGRX pixels starting at `src`
;; (`stride` bytes apart), write a PNG row at `dst`: the filter byte `sub` (0 None, 1 Sub), then each
;; pixel's R G B, minus the previous pixel's byte by byte with Sub. Rows follow each other with no gap.
;;
;; Four pixels at a time: one 16-byte load, one shuffle to R G B x4 and one 16-byte store. The store's last
;; 4 bytes are junk that the next pixels (or the next row) overwrite, so the caller leaves 16 bytes of room
;; after the last row. The width % 4 last pixels of a row go one at a time.
(module
  (import "m" "memory" (memory 1))
  (func (export "pack")
    (param $src i32) (param $stride i32) (param $width i32) (param $rows i32) (param $dst i32) (param $sub i32)
    (local $y i32)
    (local $s i32)        ;; source cursor
    (local $d i32)        ;; output cursor
    (local $quads i32)    ;; groups of four pixels left in the row
    (local $singles i32)  ;; pixels left after the quads
    (local $last i32)     ;; the previous pixel, for Sub on single pixels
    (local $prev v128)    ;; the previous quad, for Sub
    (local $v v128)       ;; the current quad (or single pixel)
    (local $before v128)  ;; the pixel before each of $v's, for Sub
    (local.set $d (local.get $dst))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $y) (local.get $stride))))
        (i32.store8 (local.get $d) (local.get $sub))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (local.set $prev (v128.const i32x4 0 0 0 0))
        (local.set $quads (i32.shr_u (local.get $width) (i32.const 2)))
        (block $quads_done
          (loop $quad
            (br_if $quads_done (i32.eqz (local.get $quads)))
            (local.set $v (v128.load align=1 (local.get $s)))
            (if (local.get $sub)
              (then
                ;; lanes 12-15 of $prev, then lanes 0-11 of $v: each pixel's left neighbour
                (local.set $before
                  (i8x16.shuffle 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 (local.get $prev) (local.get $v)))
                (local.set $prev (local.get $v))
                (local.set $v (i8x16.sub (local.get $v) (local.get $before)))))
            ;; B G R X x4 -> R G B x4 in the first 12 bytes
            (v128.store align=1 (local.get $d)
              (i8x16.shuffle 2 1 0 6 5 4 10 9 8 14 13 12 0 0 0 0 (local.get $v) (local.get $v)))
            (local.set $s (i32.add (local.get $s) (i32.const 16)))
            (local.set $d (i32.add (local.get $d) (i32.const 12)))
            (local.set $quads (i32.sub (local.get $quads) (i32.const 1)))
            (br $quad)))
        ;; The previous pixel for the singles: the last of the last quad (0 when the row had none).
        (local.set $last (i32x4.extract_lane 3 (local.get $prev)))
        (local.set $singles (i32.and (local.get $width) (i32.const 3)))
        (block $singles_done
          (loop $single
            (br_if $singles_done (i32.eqz (local.get $singles)))
            (local.set $v (i32x4.splat (i32.load align=1 (local.get $s))))
            (if (local.get $sub)
              (then
                (local.set $before (i32x4.splat (local.get $last)))
                (local.set $last (i32x4.extract_lane 0 (local.get $v)))
                (local.set $v (i8x16.sub (local.get $v) (local.get $before)))))
            (i32.store8 offset=0 (local.get $d) (i8x16.extract_lane_u 2 (local.get $v)))
            (i32.store8 offset=1 (local.get $d) (i8x16.extract_lane_u 1 (local.get $v)))
            (i32.store8 offset=2 (local.get $d) (i8x16.extract_lane_u 0 (local.get $v)))
            (local.set $s (i32.add (local.get $s) (i32.const 4)))
            (local.set $d (i32.add (local.get $d) (i32.const 3)))
            (local.set $singles (i32.sub (local.get $singles) (i32.const 1)))
            (br $single)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $row)))))
