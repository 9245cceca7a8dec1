# The duet agent answers what you play: a backing, and a partner that listens to MIDI or OSC input.
#   liveai repl, then  exec(open('examples/duet.py').read())   # or: liveai run examples/duet.py
# Play to it from
#   - a MIDI keyboard: the REPL opens MIDI in by backend name (docs/io.md);
#   - Pure Data: open patches/liveai-demo.pd and play its keys (OSC /liveai/note to 127.0.0.1:9130);
#   - anything that sends OSC:  /liveai/note <pitch> <velocity> <duration beats> [channel].
# It answers after two beats of your silence, in your key and style, and learns you as you play.

tempo(92)

play('drums', stack(hits('x.......x.......', 'c2', vel=100), hits('....x.......x...', 'd2', vel=90)))
play('keys', seq(chord('d3', 'min7'), chord('g3', '7'), step=4, vel=56, legato=0.95))

partner = duet(temperature=0.8)
partner.set('pause', 2)          # beats of your silence before it answers
partner.set('key_lock', 1)       # stay in the key of your phrase
play('duet', partner)
