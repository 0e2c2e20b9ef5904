"""Graph -> search document, with the vocabulary's fixed predicates (graphs built here)."""

from __future__ import annotations

from datetime import UTC, datetime

from rdflib import Graph

from search.documents import Location
from search.project import document_from_graph

EVENT = """
@prefix schema: <http://schema.org/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix innonet: <https://w3id.org/innonet/ns#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<http://innonet.test/id/event/lab/1> a schema:Event, <http://www.w3.org/ns/prov#Entity> ;
    schema:name "Werkdag proeftuinen" ; schema:description "Een dag over proeftuinen." ;
    schema:inLanguage "nl-BE" ;
    schema:startDate "2031-05-04T09:00:00Z"^^xsd:dateTime ; schema:endDate "2031-05-04T17:00:00Z"^^xsd:dateTime ;
    schema:location [ schema:name "Het Pand" ; schema:address "Onderbergen 1, 9000 Gent" ;
                      schema:geo [ schema:latitude "51.0519"^^xsd:double ; schema:longitude "3.7217"^^xsd:double ] ] ;
    dcterms:subject <https://w3id.org/innonet/concepts/theme/participation> ;
    innonet:innovationFacet <https://w3id.org/innonet/concepts/facet/mission-oriented> ;
    innonet:lifecycleStage <https://w3id.org/innonet/concepts/stage/testing> ;
    innonet:governmentLevel <https://w3id.org/innonet/concepts/level/local> ;
    innonet:barrier <https://w3id.org/innonet/concepts/barrier/legal> ;
    innonet:cluster <http://innonet.test/id/cluster/abc> ;
    dcterms:spatial <http://publications.europa.eu/resource/authority/country/BEL>, <https://sws.geonames.org/2797656/> ;
    innonet:network <http://innonet.test/id/network/lab> ;
    dcterms:source <http://innonet.test/id/source/lab-events> .
"""


def test_an_event_graph_projects_every_facet_and_its_place() -> None:
    g = Graph().parse(data=EVENT, format="turtle")
    doc = document_from_graph("http://innonet.test/id/event/lab/1", g, {"lab": "Lab"}, {"lab": "NLD"})
    assert doc.type == "Event"
    assert doc.title == "Werkdag proeftuinen"
    assert doc.language == "nl"
    assert doc.network == "lab"
    assert doc.network_name == "Lab"
    assert doc.source == "lab-events"
    assert doc.themes == ["https://w3id.org/innonet/concepts/theme/participation"]
    assert doc.opsi_facets == ["https://w3id.org/innonet/concepts/facet/mission-oriented"]
    assert doc.lifecycle_stages == ["https://w3id.org/innonet/concepts/stage/testing"]
    assert doc.government_levels == ["https://w3id.org/innonet/concepts/level/local"]
    assert doc.barriers == ["https://w3id.org/innonet/concepts/barrier/legal"]
    assert doc.cluster == "http://innonet.test/id/cluster/abc"
    assert doc.country == "BEL"  # dcterms:spatial wins over the network's country
    assert doc.regions == ["https://sws.geonames.org/2797656/"]
    assert doc.start == datetime(2031, 5, 4, 9, tzinfo=UTC)
    assert doc.end == datetime(2031, 5, 4, 17, tzinfo=UTC)
    assert doc.location == Location(
        name="Het Pand", address="Onderbergen 1, 9000 Gent", lat=51.0519, lon=3.7217
    )
    assert doc.year() == "2031"


def test_the_network_country_is_the_fallback_and_a_bad_coordinate_is_dropped() -> None:
    data = EVENT.replace(
        "dcterms:spatial <http://publications.europa.eu/resource/authority/country/BEL>, ", "dcterms:spatial "
    ).replace('"51.0519"', '"451.0"')
    g = Graph().parse(data=data, format="turtle")
    doc = document_from_graph("http://innonet.test/id/event/lab/1", g, {}, {"lab": "NLD"})
    assert doc.country == "NLD"
    assert doc.location is not None
    assert (doc.location.lat, doc.location.lon) == (None, None)
    assert doc.location.name == "Het Pand"
