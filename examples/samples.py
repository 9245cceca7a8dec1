# Samples in Tidal's and Strudel's notation: liveai's own kit (no folder needed), or your Dirt-Samples.
#   liveai run examples/samples.py                     # realtime, through JACK (or LIVEAI_AUDIO=null)
#   liveai run examples/samples.py --samples ~/Dirt-Samples    # the same patterns on your banks
# Every line is what a performer types at `liveai repl`; edit and re-run any of them while it plays.

tempo(110)

play('beat', s('bd*2 [~ bd] <sn [sn sn:1]> ~, hh:1*8?, ~ oh . ~ ~', gain=0.9))
play('claps', s('~ cp(3,8,2)', pan=0.7, gain=0.6))
play('toms', s('<~ [lt mt ht]>', speed=1.2, cut=1))
play('ride', s('<ri ri:1 ri:2>*2', begin=0.05, release=0.3, gain=0.5))

# A melody from one drum: the tom, pitched by the notes (60 plays as recorded).
play('tune', parse('a3 c4 <e4 g4> [d4 c4]', step=0.5).inst('sample', bank='mt', release=0.1))

# With a General MIDI SoundFont (Debian's fluid-soundfont-gm, or soundfont('file.sf2')):
#   play('keys', parse('[a3,c4,e4] ~ <[g3,b3,d4] [f3,a3,c4]> ~', step=1).inst('sample', bank='gm:0'))
