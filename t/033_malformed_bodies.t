# 033_malformed_bodies.t
#	A malformed body closes the connection, for every request type alike
#	(the command table's one handler contract, node/src/dispatch.c): the
#	node answers one ERROR frame, code 1 and request id 0, answers nothing
#	that was pipelined behind it, and closes; the node and other
#	connections carry on.  REMOVE used to answer its own error and keep the
#	connection.  A well-formed request that fails (REMOVE of an unknown
#	node) gets an error for its own id and the connection stays open.

use strict;
use warnings;

use Test::More;

use DynamoTest qw(frame raw_connect read_frame);

my $node = DynamoTest::Node->start(engine => 'memory');

# type => a malformed body (one byte is short for every body with fields;
# the empty-body types get a byte they must not have)
my %bad = (
	0x01 => "\xff", 0x02 => "\xff", 0x03 => "\xff", 0x04 => 'x', 0x05 => "\xff",
	0x06 => 'x', 0x07 => "\xff", 0x08 => 'x', 0x10 => "\xff", 0x11 => "\xff",
	0x12 => "\xff", 0x13 => 'x', 0x14 => "\xff", 0x15 => "\xff", 0x16 => "\xff",
	0x17 => "\xff", 0x18 => "\xff",
);
for my $type (sort { $a <=> $b } keys %bad)
{
	my $what = sprintf('type 0x%02x', $type);
	my $s = raw_connect($node->port) or die "connect: $!\n";
	syswrite($s, frame($type, 42, $bad{$type}) . frame(0x04, 43, ''));
	my $f = read_frame($s, 5);
	my $e = $f && $f->{type} == 0xFF ? DynamoTest::decode_error($f->{body}) : undef;
	ok($e && $e->{code} == 1 && $f->{reqid} == 0, "$what, malformed: one ERROR, code 1, id 0")
	  or diag($f ? sprintf('got type 0x%02x id %d', $f->{type}, $f->{reqid}) : "no reply: $@");
	ok(DynamoTest::wait_closed($s, 5), "$what, malformed: nothing more, the connection closes");
	close $s;
}

my $s = raw_connect($node->port) or die "connect: $!\n";
syswrite($s, frame(0x07, 42, "\x02zz") . frame(0x04, 43, ''));
my $f = read_frame($s, 5);
ok($f && $f->{type} == 0xFF && $f->{reqid} == 42 && DynamoTest::decode_error($f->{body})->{code} == 6,
	'a well-formed REMOVE of an unknown node: an error for its own id');
$f = read_frame($s, 5);
ok($f && $f->{type} == 0x84 && $f->{reqid} == 43, 'and the connection stays open');
close $s;

my $st = $node->status;
is($st->{requests}{bad_frames}, scalar keys %bad, 'STATUS counts every close as a bad frame');
done_testing();
