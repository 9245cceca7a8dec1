# A groove in A minor: drums, bass, chords on two synths, and a lead that changes every bar.
#   liveai run examples/groove.py                      # realtime, through JACK (or LIVEAI_AUDIO=null)
#   liveai run examples/groove.py --offline --seconds 30 --record takes/ && liveai export takes/<take>
# Every line is what a performer types at `liveai repl`; edit and re-run any of them while it plays.

tempo(96)

play('drums', stack(
    hits('x...x...x..x....', 'c2', vel=110),          # kick
    hits('....x.......x...', 'd2'),                     # snare
    euclid(11, 16, 'f#2', vel=70, ch=9, inst='drums'),  # closed hat, euclidean
))

play('bass', deg(0, None, 0, 7, None, 5, 4, None, step=0.5, scale='minor', root='a2', vel=96, legato=0.9),
     swing=0.1)

play('keys', seq(chord('a3', 'min7'), chord('f3', 'maj7'), chord('c4', 'maj'), chord('g3', '7'),
                 step=4, vel=60, legato=0.95))

play('pad', seq(chord('a2', 'min'), chord('f2', 'maj'), step=8, vel=50, inst='hnoise'))


@voice('lead')                                          # called once per bar (its cycle), a window ahead
def lead(cycle):
    return deg(choose(7, 9, 11, seed=cycle), None, 9, 8, step=0.5, scale='minor', root='a3', vel=84)
