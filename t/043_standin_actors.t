#!/usr/bin/perl
# 043_standin_actors.t
#	A stand-in's actor on real processes (issue 11 item 1, review).  Two
#	nodes, N=1: a key owned by n2, n2 stopped, n1 stands in (its stand-in
#	actor of the key's partition dots the writes).
#
#	A context no write of this cluster returned is refused, and cannot
#	stop the node from taking later writes: an incarnation's dot must be
#	above every counter it issued for any key (dynamo/actor.h), so a
#	context claiming a counter of a live incarnation near 2^64 raised that
#	floor for every key its actor dots, and every later write of the
#	partition (of every key, for an owner incarnation) failed with "quorum
#	not met", as if the cluster were cut.  A node id's counter at its
#	limit is an invalid context too, not a quorum failure a client would
#	retry.
#
#	Once n2 is back and n1 has handed its hints off, n1's stand-in actor
#	is retired (hints.c): a later stand-in write is dotted by a new one,
#	so its blind version does not cover the versions handed off (with the
#	old actor its counter would, and n2 would drop them when the hint of
#	the new write arrives).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use MIME::Base64 qw(encode_base64url decode_base64url);
use Test::More;

use DynamoTest;
use DynamoCluster qw(start_cluster wait_until status_of pending_hints);

# the text of a one-entry context (vclock.c's encoding: count, then per
# entry u8 id length, id, varint counter, varint timestamp)
sub context_of
{
	my ($id, $counter) = @_;
	my $b = pack('C C', 1, length $id) . $id;
	for my $v ($counter, 0)
	{
		while ($v >= 0x80) { $b .= chr(($v & 0x7f) | 0x80); $v >>= 7 }
		$b .= chr($v);
	}
	return encode_base64url($b);
}

# the actor ids of a context's entries
sub actors_of
{
	my ($text) = @_;
	my $b = decode_base64url($text);
	my ($n, @ids) = (ord substr($b, 0, 1));
	my $p = 1;
	for (1 .. $n)
	{
		my $len = ord substr($b, $p, 1);
		push @ids, substr($b, $p + 1, $len);
		$p += 1 + $len;
		$p++ while ord(substr($b, $p, 1)) & 0x80;
		$p++;
		$p++ while ord(substr($b, $p, 1)) & 0x80;
		$p++;
	}
	return @ids;
}

my @n = start_cluster(2, n => 1, prefix => 'n');

my $key;
for my $i (0 .. 200)
{
	my $pl = DynamoCluster::preflist($n[0], 'b', "k$i") or next;
	my @own = map { $_->{id} } grep { $_->{replica} } @{ $pl->{nodes} // [] };
	if ("@own" eq 'n2') { $key = "k$i"; last }
}
ok(defined $key, 'a key owned by n2') or BAIL_OUT('no such key');

# a node id at its counter's limit: a bad context, not a cut cluster
my ($rc, $out, $err) = $n[1]->cli('put', 'b', $key, 'x', '--w', '1',
	'--context', context_of('n2', '18446744073709551615'));
isnt($rc, 0, 'a context holding n2 at 2^64-1 is refused');
like($err, qr/invalid context/, 'as an invalid context') or diag($err);
unlike($err, qr/quorum not met/, 'not as a quorum failure');

$n[1]->stop;
ok(defined wait_until(20, sub { status_of($n[0], 'n2') eq 'down' }), 'n1 sees n2 down');

($rc, $out, $err) = $n[0]->cli('put', 'b', $key, 'first', '--w', '1');
is($rc, 0, 'n1 stands in for n2: W=1') or diag($err);
my ($ctx) = $out =~ /^(\S+)/;
my ($actor) = grep { /^n1~/ } actors_of($ctx // '');
ok(defined $actor, "the write is dotted by n1's stand-in actor (" . ($actor // '') . ')')
	or BAIL_OUT('no stand-in actor');

($rc, $out, $err) = $n[0]->cli('put', 'b', $key, 'forged', '--w', '1',
	'--context', context_of($actor, '18446744073709551614'));
isnt($rc, 0, "a context claiming $actor issued 2^64-2 is refused");
like($err, qr/invalid context/, 'as an invalid context') or diag($err);

for my $i (1 .. 3)
{
	($rc, $out, $err) = $n[0]->cli('put', 'b', $key, "after$i", '--w', '1');
	is($rc, 0, "a later write through n1 is still taken ($i)") or diag($err);
}
my $g = $n[0]->get('b', $key, '--r', '1');
my @v = sort map { $_->{value} } @{ $g->{siblings} // [] };
is("@v", 'after1 after2 after3 first', 'the four blind writes, as siblings; the forged one is not there');

# the hints handed off: the stand-in actor retires
my $retired = $n[0]->status->{actors}{retired} // 0;
$n[1]->restart;
ok(defined wait_until(30, sub { pending_hints($n[0]) == 0 }), "n1's hints for n2 delivered");
ok(($n[0]->status->{actors}{retired} // 0) > $retired, 'the stand-in actor retired');

$n[1]->stop;
ok(defined wait_until(20, sub { status_of($n[0], 'n2') eq 'down' }), 'n1 sees n2 down again');
($rc, $out, $err) = $n[0]->cli('put', 'b', $key, 'later', '--w', '1');
is($rc, 0, 'n1 stands in again') or diag($err);
($ctx) = $out =~ /^(\S+)/;
my ($actor2) = grep { /^n1~/ } actors_of($ctx // '');
ok(defined $actor2 && $actor2 ne $actor, 'dotted by a new stand-in actor (' . ($actor2 // '') . ')');
$n[1]->restart;
ok(defined wait_until(30, sub { pending_hints($n[0]) == 0 }), 'delivered too');
$g = $n[1]->get('b', $key, '--r', '1');
@v = sort map { $_->{value} } @{ $g->{siblings} // [] };
is("@v", 'after1 after2 after3 first later', 'n2 holds every blind write, the later one beside the rest');

done_testing();
